"""The pure core of change detection: paths and project folders in, a plan out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from pipeline.monorepo import changed, changes
from pipeline.monorepo.changes import Affected, Change, Plan

M, A, D = "M", "A", "D"


def mod(path: str) -> Change:
    return Change("M", path, path)


def add(path: str) -> Change:
    return Change.of("A", path)


def rm(path: str) -> Change:
    return Change.of("D", path)


def mv(old: str, new: str) -> Change:
    return Change.of("R087", old, new)


def plan(
    diff: Sequence[Change],
    head: set[str],
    base: set[str] | None = None,
    depends_on: Mapping[str, Sequence[str]] | None = None,
    global_paths: Sequence[str] = (".somlier/platform.yaml",),
) -> Plan:
    return changes.plan(
        diff,
        head=head,
        base=changes.base_folders(head, diff) if base is None else base,
        depends_on=depends_on or {},
        global_paths=global_paths,
    )


def reasons(result: Plan) -> dict[str, tuple[str, ...]]:
    return {a.path: a.reasons for a in result.projects}


def test_a_change_belongs_to_the_closest_project() -> None:
    result = plan([mod("projects/a/src/x.py")], {"projects/a", "projects/b"})
    assert result == Plan((Affected("projects/a", ("changed: projects/a/src/x.py",)),), (), False)


def test_a_path_at_the_root_that_matches_nothing_plans_nothing() -> None:
    result = plan([mod("README.md"), add("docs/x.md")], {"projects/a"})
    assert result == Plan((), (), False)


def test_a_project_at_the_root_holds_what_no_other_project_holds() -> None:
    result = plan([mod("README.md"), mod("projects/a/x.py")], {"", "projects/a"})
    assert reasons(result) == {
        "": ("changed: README.md",),
        "projects/a": ("changed: projects/a/x.py",),
    }


def test_nested_projects_the_longest_prefix_wins() -> None:
    head = {"team", "team/inner", "team/inner/deep"}
    result = plan([mod("team/inner/x.py"), mod("team/inner/deep/y/z.py")], head)
    assert sorted(reasons(result)) == ["team/inner", "team/inner/deep"]


def test_a_prefix_that_is_not_a_folder_does_not_count() -> None:
    result = plan([mod("projects/ab/x.py")], {"projects/a"})
    assert result.projects == ()


def test_a_rename_across_projects_counts_on_both_sides() -> None:
    result = plan([mv("projects/a/util.py", "projects/b/util.py")], {"projects/a", "projects/b"})
    text = "renamed: projects/a/util.py -> projects/b/util.py"
    assert reasons(result) == {"projects/a": (text,), "projects/b": (text,)}


def test_a_deleted_project_is_reported_as_deleted_never_built() -> None:
    diff = [rm("projects/old/somlier.yaml"), rm("projects/old/main.py"), mod("projects/a/x.py")]
    result = plan(diff, {"projects/a"})
    assert result.deleted == ("projects/old",)
    assert [a.path for a in result.projects] == ["projects/a"]


def test_a_deleted_project_stays_out_even_when_a_global_path_changed() -> None:
    diff = [rm("projects/old/somlier.yaml"), mod(".somlier/platform.yaml")]
    result = plan(diff, {"projects/a", "projects/b"})
    assert result.all
    assert [a.path for a in result.projects] == ["projects/a", "projects/b"]
    assert result.deleted == ("projects/old",)


def test_a_moved_project_is_renamed_not_deleted() -> None:
    diff = [
        mv("projects/old/somlier.yaml", "projects/new/somlier.yaml"),
        mv("projects/old/main.py", "projects/new/main.py"),
    ]
    result = plan(diff, {"projects/new"})
    assert result.deleted == ()
    assert reasons(result)["projects/new"] == (
        "renamed from projects/old",
        "renamed: projects/old/main.py -> projects/new/main.py",
        "renamed: projects/old/somlier.yaml -> projects/new/somlier.yaml",
    )


def test_base_folders_follow_from_head_and_the_diff() -> None:
    diff = [
        add("projects/new/somlier.yaml"),
        rm("projects/old/somlier.yaml"),
        mv("x/somlier.yaml", "y/somlier.yaml"),
        mod("projects/a/somlier.yaml"),
        add("somlier.yaml.bak"),
    ]
    head = {"projects/a", "projects/new", "y"}
    assert changes.base_folders(head, diff) == {"projects/a", "projects/old", "x"}


def test_depends_on_globs_pull_in_projects() -> None:
    depends = {
        "projects/a": ["libs/common/**"],
        "projects/b": ["libs/other/**", "**/schema.json"],
        "projects/c": ["libs/common"],
    }
    head = {"projects/a", "projects/b", "projects/c", "projects/d"}
    result = plan([mod("libs/common/x.py"), mod("data/v2/schema.json")], head, depends_on=depends)
    assert reasons(result) == {
        "projects/a": ("depends_on: libs/common/** (libs/common/x.py)",),
        "projects/b": ("depends_on: **/schema.json (data/v2/schema.json)",),
        "projects/c": ("depends_on: libs/common (libs/common/x.py)",),
    }


def test_depends_on_sees_both_sides_of_a_rename() -> None:
    diff = [mv("libs/common/x.py", "libs/attic/x.py")]
    result = plan(diff, {"projects/a"}, depends_on={"projects/a": ["libs/common/**"]})
    assert reasons(result) == {"projects/a": ("depends_on: libs/common/** (libs/common/x.py)",)}


def test_depends_on_of_a_project_gone_at_head_is_ignored() -> None:
    diff = [rm("projects/old/somlier.yaml"), mod("libs/common/x.py")]
    result = plan(diff, {"projects/a"}, depends_on={"projects/old": ["libs/**"]})
    assert result.projects == ()
    assert result.deleted == ("projects/old",)


def test_a_global_path_affects_every_project() -> None:
    head = {"projects/a", "projects/b"}
    result = plan([mod(".somlier/platform.yaml"), mod("projects/a/x.py")], head)
    assert result.all
    assert reasons(result) == {
        "projects/a": ("changed: projects/a/x.py", "global: .somlier/platform.yaml"),
        "projects/b": ("global: .somlier/platform.yaml",),
    }


def test_global_paths_are_globs() -> None:
    result = plan([mod("docker/base/Dockerfile")], {"p"}, global_paths=["docker/**"])
    assert result.all
    assert reasons(result) == {"p": ("global: docker/base/Dockerfile",)}
    assert not plan([mod("dockerfiles/x")], {"p"}, global_paths=["docker/**"]).all


def test_a_new_nested_project_changes_its_enclosing_project() -> None:
    diff = [add("team/inner/somlier.yaml")]
    result = plan(diff, {"team", "team/inner"})
    assert reasons(result) == {
        "team": ("nested project added: team/inner",),
        "team/inner": ("changed: team/inner/somlier.yaml",),
    }


def test_a_file_that_changes_owner_counts_for_both_owners() -> None:
    # team/inner became a project; team/inner/x.py changed and moved from team to team/inner.
    diff = [add("team/inner/somlier.yaml"), mod("team/inner/x.py")]
    result = plan(diff, {"team", "team/inner"})
    assert "changed: team/inner/x.py" in reasons(result)["team"]
    assert "changed: team/inner/x.py" in reasons(result)["team/inner"]


def test_a_removed_nested_project_changes_its_enclosing_project() -> None:
    result = plan([rm("team/inner/somlier.yaml")], {"team"})
    assert result.deleted == ("team/inner",)
    assert reasons(result) == {"team": ("nested project removed: team/inner",)}


def test_reasons_are_capped_per_kind_and_counted() -> None:
    diff = [mod(f"p/f{i:02d}.py") for i in range(12)]
    assert reasons(plan(diff, {"p"}))["p"] == (
        "changed: p/f00.py",
        "changed: p/f01.py",
        "changed: p/f02.py",
        "changed: p/f03.py",
        "changed: p/f04.py",
        "changed: 7 more paths",
    )


def test_change_of_reads_git_status_letters() -> None:
    assert Change.of("R100", "a", "b") == Change("R", "a", "b")
    assert Change.of("C075", "a", "b") == Change("A", None, "b")
    assert Change.of("T", "a") == Change("T", "a", "a")
    assert Change.of("D", "a") == Change("D", "a", None)


def test_thousands_of_paths_and_ten_thousand_projects() -> None:  # timed: benchmarks/plan.py
    head = {f"projects/g{i // 100:02d}/p{i:05d}" for i in range(10_000)}
    depends = {
        f"projects/g{i // 100:02d}/p{i:05d}": ["libs/common/**", f"libs/x{i}/**"]
        for i in range(0, 10_000, 10)
    }
    diff = [mod(f"projects/g{i // 100:02d}/p{i:05d}/src/m{i}.py") for i in range(0, 8_000, 2)]
    diff += [mod(f"libs/common/m{i}.py") for i in range(1_000)]
    result = plan(diff, head, depends_on=depends)
    touched = {f"projects/g{i // 100:02d}/p{i:05d}" for i in range(0, 8_000, 2)} | set(depends)
    assert {a.path for a in result.projects} == touched


def test_names_json_matrix_and_text() -> None:
    result = plan([mod("projects/a/x.py"), rm("projects/old/somlier.yaml")], {"projects/a"})
    named = changed.named(
        result, {"projects/a": "model-a"}, base="b" * 40, head="c" * 40, merge_base="d" * 40
    )
    assert changed.as_json(named) == {
        "base": "b" * 40,
        "head": "c" * 40,
        "merge_base": "d" * 40,
        "projects": [
            {"name": "model-a", "path": "projects/a", "reasons": ["changed: projects/a/x.py"]}
        ],
        "deleted": [{"name": "old", "path": "projects/old"}],
        "all": False,
    }
    assert changed.as_matrix(named) == {"include": [{"project": "model-a", "path": "projects/a"}]}
    assert changed.as_text(named) == [
        "model-a (projects/a): changed: projects/a/x.py",
        "old (projects/old): deleted",
    ]


def test_the_root_project_is_shown_as_a_dot() -> None:
    named = changed.named(plan([mod("x")], {""}), {}, base="", head="", merge_base="")
    assert changed.as_matrix(named) == {"include": [{"project": ".", "path": "."}]}


@pytest.mark.parametrize("status", [M, A, D])
def test_every_status_maps_its_path(status: str) -> None:
    result = plan([Change.of(status, "p/x.py")], {"p"})
    assert reasons(result) == {"p": ("changed: p/x.py",)}


def test_a_project_at_the_root_encloses_every_other() -> None:
    result = plan([rm("projects/old/somlier.yaml")], {"", "projects/a"})
    assert reasons(result) == {"": ("nested project removed: projects/old",)}
