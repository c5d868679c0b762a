"""``somlier pipeline changed`` on real git repositories: golden scenarios, shallow clones,
errors and exit codes, through both ways in: the console script's fast path
(``pipeline.cli.entry.main``) and the click application (``pipeline.cli.main.main``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from pipeline.cli import entry
from pipeline.cli import main as click_app

main = click_app.main

if TYPE_CHECKING:
    from conftest import GitRepo

pytestmark = pytest.mark.integration

PLATFORM = 'monorepo:\n  global_paths: [".somlier/platform.yaml", "docker/**"]\n'

Files = Mapping[str, "str | bytes | None"]


def project_yaml(name: str, depends_on: list[str] | None = None) -> str:
    lines = ["project:", f"  name: {name}", f"  docker: {{name: {name}}}"]
    if depends_on:
        lines.append("  depends_on: [" + ", ".join(f'"{g}"' for g in depends_on) + "]")
    lines += [
        f"model: {{name: {name}, version: v0.1.0}}",
        "entrypoints:",
        "  main: {command: python, args: [main.py]}",
    ]
    return "\n".join(lines) + "\n"


def project(folder: str, name: str, depends_on: list[str] | None = None) -> dict[str, Any]:
    """A minimal valid project in ``folder``."""
    return {
        f"{folder}/somlier.yaml": project_yaml(name, depends_on),
        f"{folder}/requirements.txt": "",
        f"{folder}/main.py": f"print({name!r})\n",
    }


def base_tree() -> dict[str, Any]:
    return {
        ".somlier/platform.yaml": PLATFORM,
        "README.md": "# ml-projects\n",
        "docker/base/Dockerfile": "FROM scratch\n",
        "libs/common/util.py": "VALUE = 1\n",
        **project("projects/churn", "churn-model"),
        "projects/churn/helpers.py": "def helper():\n    return 'a long enough body to rename'\n",
        **project("projects/fraud", "fraud-detector", depends_on=["libs/common/**"]),
        **project("projects/team", "team-root"),
        **project("projects/team/inner", "team-inner"),
    }


@pytest.fixture(autouse=True, params=["fast", "click"])
def way_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs through the console script's fast path and through click."""
    way = entry.main if request.param == "fast" else click_app.main
    monkeypatch.setitem(globals(), "main", way)


@pytest.fixture
def monorepo(git_repo: GitRepo) -> GitRepo:
    """main: the base tree; feature: a branch of it, checked out."""
    git_repo.commit("base tree", base_tree())
    git_repo.git("switch", "-q", "-c", "feature")
    return git_repo


def run(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, str, str]:
    code = main(["pipeline", "changed", "--repo", str(repo.path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def changed_json(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, repo, "--base", "main", "--json", *args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def moved(old: str, new: str, repo: GitRepo) -> dict[str, Any]:
    content = (repo.path / old).read_bytes()
    return {old: None, new: content}


SCENARIOS: dict[str, tuple[Callable[[GitRepo], Files], list[Any], list[Any], bool]] = {
    "a change in one project": (
        lambda r: {"projects/churn/main.py": "print('v2')\n"},
        [["churn-model", "projects/churn", ["changed: projects/churn/main.py"]]],
        [],
        False,
    ),
    "depends_on": (
        lambda r: {"libs/common/util.py": "VALUE = 2\n"},
        [
            [
                "fraud-detector",
                "projects/fraud",
                ["depends_on: libs/common/** (libs/common/util.py)"],
            ]
        ],
        [],
        False,
    ),
    "a rename across projects": (
        lambda r: moved("projects/churn/helpers.py", "projects/fraud/helpers.py", r),
        [
            [
                "churn-model",
                "projects/churn",
                ["renamed: projects/churn/helpers.py -> projects/fraud/helpers.py"],
            ],
            [
                "fraud-detector",
                "projects/fraud",
                ["renamed: projects/churn/helpers.py -> projects/fraud/helpers.py"],
            ],
        ],
        [],
        False,
    ),
    "a deleted project": (
        lambda r: {p: None for p in base_tree() if p.startswith("projects/churn/")},
        [],
        [["churn-model", "projects/churn"]],
        False,
    ),
    "a moved project": (
        lambda r: {
            k: v
            for name in ("somlier.yaml", "helpers.py", "main.py", "requirements.txt")
            for k, v in moved(f"projects/churn/{name}", f"projects/models/churn/{name}", r).items()
        },
        [
            [
                "churn-model",
                "projects/models/churn",
                [
                    "renamed from projects/churn",
                    "renamed: projects/churn/helpers.py -> projects/models/churn/helpers.py",
                    "renamed: projects/churn/main.py -> projects/models/churn/main.py",
                    "renamed: projects/churn/requirements.txt"
                    " -> projects/models/churn/requirements.txt",
                    "renamed: projects/churn/somlier.yaml -> projects/models/churn/somlier.yaml",
                ],
            ]
        ],
        [],
        False,
    ),
    "nested projects": (
        lambda r: {"projects/team/inner/main.py": "print(2)\n", "projects/team/x.py": "x = 1\n"},
        [
            ["team-root", "projects/team", ["changed: projects/team/x.py"]],
            ["team-inner", "projects/team/inner", ["changed: projects/team/inner/main.py"]],
        ],
        [],
        False,
    ),
    "a path at the root that no project holds": (
        lambda r: {"README.md": "# changed\n", "docs/new.md": "new\n"},
        [],
        [],
        False,
    ),
    "a global path": (
        lambda r: {"docker/base/Dockerfile": "FROM scratch\nLABEL x=y\n"},
        [
            [name, path, ["global: docker/base/Dockerfile"]]
            for name, path in [
                ("churn-model", "projects/churn"),
                ("fraud-detector", "projects/fraud"),
                ("team-root", "projects/team"),
                ("team-inner", "projects/team/inner"),
            ]
        ],
        [],
        True,
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_golden_scenarios(
    scenario: str, monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, projects, deleted, every = SCENARIOS[scenario]
    head = monorepo.commit(scenario, edit(monorepo))
    result = changed_json(capsys, monorepo)
    assert result == {
        "base": monorepo.rev("main"),
        "head": head,
        "merge_base": monorepo.rev("main"),
        "projects": [{"name": n, "path": p, "reasons": r} for n, p, r in projects],
        "deleted": [{"name": n, "path": p} for n, p in deleted],
        "all": every,
    }


def test_the_platform_file_is_a_global_path(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    monorepo.commit("platform", {".somlier/platform.yaml": PLATFORM + "# tuned\n"})
    result = changed_json(capsys, monorepo)
    assert result["all"] is True
    assert {p["name"] for p in result["projects"]} == {
        "churn-model",
        "fraud-detector",
        "team-root",
        "team-inner",
    }
    assert {tuple(p["reasons"]) for p in result["projects"]} == {
        ("global: .somlier/platform.yaml",)
    }


def test_three_dots_changes_on_base_after_the_fork_do_not_count(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    fork = monorepo.rev("HEAD")
    monorepo.commit("churn", {"projects/churn/main.py": "print(3)\n"})
    monorepo.git("switch", "-q", "main")
    monorepo.commit("fraud on main", {"projects/fraud/main.py": "print(4)\n"})
    monorepo.git("switch", "-q", "feature")
    result = changed_json(capsys, monorepo)
    assert result["merge_base"] == fork != result["base"]
    assert [p["name"] for p in result["projects"]] == ["churn-model"]


def test_head_need_not_be_checked_out(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    monorepo.commit("two", {"projects/churn/main.py": "print(5)\n", "libs/common/util.py": "x\n"})
    checked_out = changed_json(capsys, monorepo)
    monorepo.git("switch", "-q", "main")
    # The index and the work tree now hold main: the tree and the blobs come from git.
    assert changed_json(capsys, monorepo, "--head", "feature") == checked_out
    assert [p["name"] for p in checked_out["projects"]] == ["churn-model", "fraud-detector"]


def test_uncommitted_edits_do_not_count(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    monorepo.commit("lib", {"libs/common/util.py": "VALUE = 3\n"})
    # Drop depends_on in the work tree only: head's blob still declares it.
    monorepo.write(
        {
            "projects/fraud/somlier.yaml": (monorepo.path / "projects/fraud/somlier.yaml")
            .read_text()
            .replace("depends_on", "# d")
        }
    )
    result = changed_json(capsys, monorepo)
    assert [p["name"] for p in result["projects"]] == ["fraud-detector"]


def test_names_come_from_the_file_interpolated(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_NAME", "from-env")
    # The platform allows these two (an override instead of an edit of platform.yaml, which is
    # a global path and would change every project).
    monkeypatch.setenv("SOMLIER__INTERPOLATION__ALLOW", "[TEST_NAME, NOPE]")
    text = (monorepo.path / "projects/fraud/somlier.yaml").read_text()
    text = text.replace("  name: fraud-detector", "  name: ${TEST_NAME}")
    team = (
        "project: {name: '${NOPE:flow-style}', docker: {name: t}}\n"
        "model: {name: t, version: v1.0.0}\nentrypoints: {main: {command: python}}\n"
    )
    files = {"projects/fraud/somlier.yaml": text, "projects/team/somlier.yaml": team}
    monorepo.commit("names", files)
    validated = changed_json(capsys, monorepo)
    assert [p["name"] for p in validated["projects"]] == ["from-env", "flow-style"]
    # Now on main too: the names of unchanged files are read, not validated.
    monorepo.git("branch", "-f", "main", "HEAD")
    monorepo.commit("lib", {"libs/common/util.py": "VALUE = 4\n", "projects/team/x.py": "x\n"})
    names = [p["name"] for p in changed_json(capsys, monorepo)["projects"]]
    assert names == ["from-env", "flow-style"]


def test_a_changed_somlier_yaml_is_validated_first(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (monorepo.path / "projects/churn/somlier.yaml").read_text()
    monorepo.commit("bad", {"projects/churn/somlier.yaml": text + "onlin: {}\n"})
    code, out, err = run(capsys, monorepo, "--base", "main", "--json")
    assert code == 2
    assert out == ""
    assert err.startswith("projects/churn/somlier.yaml:7:1: error: unknown key 'onlin'")
    assert "Traceback" not in err


def test_a_missing_requirements_file_fails_validation(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    monorepo.commit(
        "no requirements",
        {
            "projects/churn/requirements.txt": None,
            "projects/churn/somlier.yaml": project_yaml("churn-model") + "# x\n",
        },
    )
    code, _, err = run(capsys, monorepo, "--base", "main")
    assert code == 2
    assert "requirements file 'requirements.txt' not found" in err


def test_validation_reads_the_exact_bytes(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    crlf = project_yaml("churn-model").replace("\n", "\r\n").encode()
    monorepo.commit("crlf", {"projects/churn/somlier.yaml": crlf})
    assert [p["name"] for p in changed_json(capsys, monorepo)["projects"]] == ["churn-model"]
    monorepo.commit("latin-1", {"projects/churn/somlier.yaml": crlf + b"# caf\xe9\r\n"})
    code, _, err = run(capsys, monorepo, "--base", "main")
    assert code == 2
    assert "projects/churn/somlier.yaml:7:6: error: the file is not valid UTF-8 (byte 0xe9)" in err


def test_matrix_and_text_output(monorepo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    monorepo.commit(
        "two",
        {
            "projects/churn/main.py": "print(6)\n",
            "libs/common/util.py": "VALUE = 6\n",
            **{p: None for p in base_tree() if p.startswith("projects/team/inner/")},
        },
    )
    code, out, err = run(capsys, monorepo, "--base", "main", "--matrix")
    assert code == 0, err
    assert json.loads(out) == {
        "include": [
            {"project": "churn-model", "path": "projects/churn"},
            {"project": "fraud-detector", "path": "projects/fraud"},
            {"project": "team-root", "path": "projects/team"},
        ]
    }
    code, out, err = run(capsys, monorepo, "--base", "main")
    assert code == 0
    assert out.splitlines() == [
        "churn-model (projects/churn): changed: projects/churn/main.py",
        "fraud-detector (projects/fraud): depends_on: libs/common/** (libs/common/util.py)",
        "team-root (projects/team): nested project removed: projects/team/inner",
        "team-inner (projects/team/inner): deleted",
    ]
    assert err == f"3 projects changed, 1 deleted; merge base {monorepo.rev('main')[:12]}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "nope"], "error: --base 'nope': unknown revision (no such commit)"),
        (["--base", "main", "--head", "nope"], "error: --head 'nope': unknown revision"),
        (["--base", "--json"], "error: --base '--json' is not a git revision"),
        (["--base", "main", "--json", "--matrix"], "--json and --matrix are two forms"),
    ],
)
def test_wrong_input_exits_2(
    args: list[str], message: str, monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, monorepo, *args)
    assert (code, out) == (2, "")
    assert message in err
    assert "Traceback" not in err


def test_outside_git_exits_2(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["pipeline", "changed", "-C", str(tmp_path), "--base", "main"])
    assert code == 2
    assert "not inside a git repository" in capsys.readouterr().err


def test_unrelated_histories_exit_2(monorepo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    monorepo.git("switch", "-q", "--orphan", "island")
    monorepo.commit("alone", {"x": "y\n"})
    code, _, err = run(capsys, monorepo, "--base", "main")
    assert code == 2
    assert "have no common history" in err


# Shallow clones ---------------------------------------------------------------------------------


@pytest.fixture
def origin(monorepo: GitRepo) -> GitRepo:
    """feature forks main, then main gets 70 more commits: a depth-1 clone lacks the merge base."""
    monorepo.git("switch", "-q", "main")
    fork = monorepo.rev("main")
    for number in range(70):
        monorepo.git("commit", "-q", "--allow-empty", "-m", f"main {number}")
    monorepo.git("switch", "-q", "feature")
    monorepo.commit("feature", {"projects/churn/main.py": "print('feature')\n"})
    assert monorepo.git("merge-base", "main", "feature").strip() == fork
    return monorepo


def shallow_clone(origin: GitRepo, dest: Any) -> GitRepo:
    clone = origin.clone(dest, "--depth", "1", "--branch", "feature")
    clone.git("fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    assert clone.git("rev-parse", "--is-shallow-repository").strip() == "true"
    return clone


def test_a_shallow_clone_is_deepened_until_the_merge_base_is_there(
    origin: GitRepo, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = changed_json(capsys, origin)
    clone = shallow_clone(origin, tmp_path / "clone")
    code, out, err = run(capsys, clone, "--base", "origin/main", "--json")
    assert code == 0, err
    assert json.loads(out) == expected
    assert clone.rev("HEAD~1") == origin.rev("feature~1")


def test_a_shallow_clone_that_cannot_be_deepened_names_fetch_depth(
    origin: GitRepo, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = shallow_clone(origin, tmp_path / "clone")
    shutil.rmtree(origin.path)  # the remote is gone
    code, out, err = run(capsys, clone, "--base", "origin/main", "--json")
    assert (code, out) == (2, "")
    assert "the merge base is not in this shallow clone" in err
    assert "fetch-depth" in err
    assert "Traceback" not in err


def test_a_shallow_clone_without_the_base_names_fetch_depth(
    origin: GitRepo, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = origin.clone(tmp_path / "clone", "--depth", "1", "--branch", "feature")
    code, _, err = run(capsys, clone, "--base", "origin/main")
    assert code == 2
    assert "--base 'origin/main': unknown revision" in err
    assert "fetch-depth" in err


def test_a_clone_of_a_bare_origin(
    monorepo: GitRepo, make_repo: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = make_repo("origin.git", bare=True)
    monorepo.git("push", "-q", str(origin.path), "main", "feature")
    clone = origin.clone(tmp_path / "clone", "--branch", "main")
    clone.git("switch", "-q", "-c", "work", "origin/feature")
    clone.commit("work", {"projects/team/inner/main.py": "print('work')\n"})
    code, out, err = run(capsys, clone, "--base", "origin/main", "--matrix")
    assert code == 0, err
    inner = {"project": "team-inner", "path": "projects/team/inner"}
    assert json.loads(out) == {"include": [inner]}


# The projects stored between runs (pipeline.monorepo.snapshot) -----------------------------------


def stored(repo: GitRepo) -> Any:
    return repo.path / ".git" / "somlier" / "projects.json"


def cold(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> dict[str, Any]:
    """The answer of a run with nothing stored (as on a fresh clone)."""
    stored(repo).unlink(missing_ok=True)
    return changed_json(capsys, repo, *args)


def test_stored_projects_are_brought_forward(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.monorepo import gitdiff, snapshot

    def source() -> str:
        revs = gitdiff.resolve(monorepo.path, "main", "HEAD")
        return snapshot.at(revs).source

    monorepo.commit("one", {"projects/churn/main.py": "print(7)\n"})
    assert source() == "listed"
    assert source() == "stored"
    first = changed_json(capsys, monorepo)
    # Every kind of somlier.yaml change at once: a new project that declares depends_on, one
    # that starts declaring it, one deleted, one moved, and a file that stops being a project.
    monorepo.commit(
        "many",
        {
            **project("projects/ranker", "ranker", depends_on=["libs/**"]),
            "projects/team/somlier.yaml": project_yaml("team-root", depends_on=["docs/**"]),
            **{p: None for p in base_tree() if p.startswith("projects/team/inner/")},
            **moved("projects/churn/somlier.yaml", "projects/models/churn/somlier.yaml", monorepo),
            **moved(
                "projects/churn/requirements.txt",
                "projects/models/churn/requirements.txt",
                monorepo,
            ),
            "libs/common/util.py": "VALUE = 8\n",
            "docs/guide.md": "guide\n",
        },
    )
    assert source() == "diffed"
    forward = changed_json(capsys, monorepo)
    assert forward == cold(capsys, monorepo)
    assert [p["name"] for p in forward["projects"]] == [
        "fraud-detector",
        "churn-model",
        "ranker",
        "team-root",
    ]
    assert forward["deleted"] == [{"name": "team-inner", "path": "projects/team/inner"}]
    # Back to the first commit (the stored one is now the later): forward works both ways.
    monorepo.git("switch", "-q", "--detach", "HEAD~1")
    assert source() == "diffed"
    assert changed_json(capsys, monorepo) == first == cold(capsys, monorepo)


def test_a_stored_file_that_cannot_be_used_means_a_full_listing(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    monorepo.commit("lib", {"libs/common/util.py": "VALUE = 9\n"})
    expected = cold(capsys, monorepo)
    data = json.loads(stored(monorepo).read_text())
    assert data["commit"] == monorepo.rev("HEAD")
    assert set(data["markers"]) == {
        "projects/churn",
        "projects/fraud",
        "projects/team",
        "projects/team/inner",
    }
    # A commit this repository does not have (gc'd, or beyond a shallow clone's history).
    stored(monorepo).write_text(json.dumps({**data, "commit": "0123456789" * 4}))
    assert changed_json(capsys, monorepo) == expected
    assert json.loads(stored(monorepo).read_text()) == data  # listed again, and stored
    for garbage in (
        "{",
        "[]",
        json.dumps({**data, "format": 0}),
        json.dumps({**data, "commit": "--output=/tmp/x"}),
        json.dumps({**data, "markers": {"projects/x": "not an id"}}),
    ):
        stored(monorepo).write_text(garbage)
        assert changed_json(capsys, monorepo) == expected
        assert json.loads(stored(monorepo).read_text()) == data


def test_uncommitted_edits_do_not_count_with_projects_stored(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    monorepo.commit("lib", {"libs/common/util.py": "VALUE = 10\n"})
    assert [p["name"] for p in cold(capsys, monorepo)["projects"]] == ["fraud-detector"]
    monorepo.commit("x", {"projects/churn/x.py": "x\n"})
    # The work tree drops depends_on, head still declares it: the blob comes from git.
    path = monorepo.path / "projects/fraud/somlier.yaml"
    path.write_text(path.read_text().replace("depends_on", "# d"))
    assert [p["name"] for p in changed_json(capsys, monorepo)["projects"]] == [
        "churn-model",
        "fraud-detector",
    ]


@pytest.mark.parametrize(
    ("committed", "work_tree", "valid"),
    [
        # In the work tree only: a requirements file head does not have, or lacks.
        ({"projects/churn/requirements.txt": None}, {"projects/churn/requirements.txt": ""}, False),
        ({}, {"projects/churn/requirements.txt": None}, True),
        # An edit head does not have, or a fix it does not have.
        ({}, {"projects/churn/somlier.yaml": project_yaml("churn-model") + "onlin: {}\n"}, True),
        (
            {"projects/churn/somlier.yaml": project_yaml("churn-model") + "onlin: {}\n"},
            {"projects/churn/somlier.yaml": project_yaml("churn-model") + "# fixed\n"},
            False,
        ),
        # Files the scratch copy would not have.
        ({}, {"projects/churn/__pycache__/x.pyc": b"\0"}, True),
    ],
)
def test_a_changed_somlier_yaml_is_validated_as_it_is_at_head(
    committed: Files,
    work_tree: Files,
    valid: bool,
    monorepo: GitRepo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = {"projects/churn/somlier.yaml": project_yaml("churn-model") + "# v2\n", **committed}
    monorepo.commit("edit", files)
    monorepo.write(work_tree)
    code, out, err = run(capsys, monorepo, "--base", "main", "--json")
    assert code == (0 if valid else 2), err
    assert ("churn-model" in out) is valid


def test_a_symlinked_requirements_file_counts_as_there(
    monorepo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    (monorepo.path / "projects/churn/requirements.txt").unlink()
    (monorepo.path / "projects/churn/requirements.txt").symlink_to("../nowhere.txt")
    monorepo.commit("link", {"projects/churn/somlier.yaml": project_yaml("churn-model") + "#\n"})
    # Validated in a scratch copy, where the link is a plain file (as before the in-place path).
    assert [p["name"] for p in changed_json(capsys, monorepo)["projects"]] == ["churn-model"]
