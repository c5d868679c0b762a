"""The comment actions (pipeline.chatops.actions) with the features the edge hands in: what the
/build and /dag replies say, and the table of the issue_comment job. The PR head's worktree is
replaced by a folder, so nothing here starts git."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pipeline.chatops import pr_worktree as pr_trees
from pipeline.chatops.actions import ImagesBuilt, action_table, for_github_actions
from pipeline.chatops.dispatch import ActionContext, ActionResult
from pipeline.chatops.parse import parse_line
from pipeline.config.settings import PlatformSettings
from tests.fakes.chatops import HEAD, REPO

ENVIRON = {"GITHUB_TOKEN": "t"}


@pytest.fixture
def head_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The PR head's worktree is ``tmp_path``; projects are named after their folders."""

    @contextlib.contextmanager
    def pr_tree(root: Path | None, sha: str, name: str) -> Iterator[Path]:
        assert (root, sha) == (tmp_path, HEAD)
        yield tmp_path

    def project_folders(
        root: Path, names: tuple[str, ...], environ: Mapping[str, str]
    ) -> tuple[str, ...]:
        return tuple(f"projects/{n}" for n in names)

    monkeypatch.setattr(pr_trees, "pr_tree", pr_tree)
    monkeypatch.setattr(pr_trees, "default_base", lambda root, settings: "origin/main")
    monkeypatch.setattr(pr_trees, "project_folders", project_folders)
    monkeypatch.setattr(pr_trees, "changed_folders", lambda *args: ("projects/changed",))
    return tmp_path


class Published:
    def __init__(self, project: str) -> None:
        self.project = project

    def summary(self) -> str:
        return f"{self.project}: opened the pull request #3"

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "pr": 3}


def unused(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("not called")


def ctx() -> ActionContext:
    return ActionContext(REPO, 7, HEAD, log=lambda line: None)


def test_the_build_reply_lists_each_image_its_cache_hits_and_failures(head_tree: Path) -> None:
    seen: dict[str, Any] = {}
    report = {
        "images": [
            {"project": "alpha", "image": "r/alpha", "tags": ["pr-7", "sha-aaaaaaa"]},
            {"project": "beta", "image": "r/beta", "tags": ["pr-7"], "cache_hit": True},
        ],
        "failed": ["gamma"],
    }

    def build_images(tree: Path, **kwargs: Any) -> ImagesBuilt:
        seen.update(kwargs, tree=tree)
        return ImagesBuilt(False, report)

    table = action_table(
        head_tree,
        PlatformSettings(),
        ENVIRON,
        build_images=build_images,
        publish_dags=unused,
        kube_adapters=unused,
    )
    result = table["build"](parse_line(0, "/build alpha beta gamma"), ctx())
    assert result == ActionResult(
        False,
        "- alpha: `r/alpha:pr-7`\n- beta: `r/beta:pr-7` (cache hit)\n"
        "- gamma: the build failed (see the job log)",
        report,
    )
    assert seen["tree"] == head_tree and seen["base"] is None  # named projects: no comparison
    assert seen["projects"] == ("projects/alpha", "projects/beta", "projects/gamma")
    assert (seen["head"], seen["pr"], seen["repo"], seen["environ"]) == (HEAD, 7, REPO, ENVIRON)

    alone = table["build"](parse_line(0, "/build"), ctx())
    assert seen["base"] == "origin/main" and seen["projects"] == ()
    assert alone.summary.startswith("- alpha")


def test_a_build_with_nothing_to_build_says_so(head_tree: Path) -> None:
    table = action_table(
        head_tree,
        PlatformSettings(),
        ENVIRON,
        build_images=lambda tree, **kwargs: ImagesBuilt(True, {"images": []}),
        publish_dags=unused,
        kube_adapters=unused,
    )
    result = table["build"](parse_line(0, "/build"), ctx())
    assert (result.ok, result.summary) == (True, "nothing to build")


def test_the_dag_reply_lists_one_pull_request_per_project(head_tree: Path) -> None:
    asked: list[tuple[str, ...]] = []

    def publish_dags(root: Path, sha: str, folders: tuple[str, ...], **kwargs: Any) -> Any:
        asked.append(folders)
        return [Published(f.rsplit("/", 1)[1]) for f in folders if f != "projects/none"]

    table = action_table(
        head_tree,
        PlatformSettings(),
        ENVIRON,
        build_images=unused,
        publish_dags=publish_dags,
        kube_adapters=unused,
    )
    named = table["dag"](parse_line(0, "/dag alpha"), ctx())
    assert named == ActionResult(
        True, "- alpha: opened the pull request #3", {"dags": [{"project": "alpha", "pr": 3}]}
    )
    changed = table["dag"](parse_line(0, "/dag"), ctx())
    assert changed.summary == "- changed: opened the pull request #3"
    empty = table["dag"](parse_line(0, "/dag none"), ctx())
    assert empty == ActionResult(True, "- no project of this PR has DAGs", {"dags": []})
    assert asked == [("projects/alpha",), ("projects/changed",), ("projects/none",)]


def test_the_issue_comment_job_answers_build_and_dag_without_running_them() -> None:
    table = for_github_actions(
        action_table(
            None,
            PlatformSettings(),
            {},
            build_images=unused,
            publish_dags=unused,
            kube_adapters=unused,
        )
    )
    assert list(table) == ["deploy", "rollback", "build", "dag"]
    for line in ("/build alpha", "/dag"):
        result = table[line.split()[0][1:]](parse_line(0, line), ctx())
        assert not result.ok and result.details == {"refused": "github-actions"}
        assert result.summary.startswith(f"`{line.split()[0]}` runs the PR's code")
        assert "pull_request workflow" in result.summary and "somlier api" in result.summary
