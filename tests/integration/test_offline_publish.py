"""`somlier offline render --open-pr`: rendered DAGs land in one PR per project in a real bare
"mlops-dags" origin, with the PR on the fake GitHub; a removed job's DAG is deleted next time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.main import main
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.helpers.git import GitRepo, MakeRepo

pytestmark = pytest.mark.integration

DAGS = "acme/mlops-dags"
CANARY = "ghs_CANARY_offline_publish_0123456789"
PROJECT = """\
project: {name: alpha}
model: {name: alpha, version: v1.0.0}
entrypoints:
  main: {command: python, args: [main.py]}
  train: {command: python, args: [train.py]}
offline:
  - {dag_id: alpha_daily, schedule: "0 9 * * *", entrypoint: main}
  - {dag_id: alpha_weekly, schedule: "@weekly", entrypoint: train}
"""
PLATFORM = "registry: {url: reg.example/ml}\ngithub: {dags_repo: acme/mlops-dags}\n"


@pytest.fixture
def setup(
    make_repo: MakeRepo, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, Any]:
    origin = make_repo("mlops-dags.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# mlops-dags\n"})
    seed.git("push", "-q", f"file://{origin.path}", "main")
    fake_github.add_repo(DAGS)
    source = make_repo("ml-projects")
    source.commit(
        "monorepo",
        {
            "projects/alpha/somlier.yaml": PROJECT,
            "projects/alpha/requirements.txt": "",
            ".somlier/platform.yaml": PLATFORM,
        },
    )

    fake_github.follow_origin(DAGS, origin.path)  # the pushed branches, as GitHub sees them
    for key in [k for k in __import__("os").environ if k.startswith(("SOMLIER__", "GITHUB_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("SOMLIER_GITHUB_PACE", "0")
    monkeypatch.setenv("SOMLIER_DAGS_CLONE_URL", f"file://{origin.path}")
    return {"origin": origin, "source": source, "out": tmp_path / "out"}


def render(setup: dict[str, Any], *extra: str) -> int:
    return main(
        [
            "offline",
            "render",
            "-C",
            str(setup["source"].path),
            "--open-pr",
            "--output-dir",
            str(setup["out"]),
            *extra,
        ]
    )


def files_on(origin: GitRepo, ref: str) -> set[str]:
    return set(origin.git("ls-tree", "-r", "--name-only", ref, "--", "dags/").split())


def test_render_open_pr_then_update_and_delete(
    setup: dict[str, Any], fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render(setup, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [p["status"] for p in shown["pull_requests"]] == ["opened"]
    assert {d["dag_id"] for d in shown["dags"]} == {"alpha_daily", "alpha_weekly"}
    origin: GitRepo = setup["origin"]
    assert files_on(origin, "somlier/alpha") == {
        "dags/alpha/alpha_daily.py",
        "dags/alpha/alpha_weekly.py",
    }
    pushed = origin.git("show", "somlier/alpha:dags/alpha/alpha_daily.py")
    assert pushed == (setup["out"] / "alpha" / "alpha_daily.py").read_text()
    [pr] = fake_github.pulls(DAGS)

    # The weekly job goes away: the same PR now deletes its DAG.
    source: GitRepo = setup["source"]
    source.commit("drop weekly", {"projects/alpha/somlier.yaml": PROJECT.rsplit("  - ", 1)[0]})
    assert render(setup) == 0
    assert "alpha" in capsys.readouterr().out
    assert files_on(origin, "somlier/alpha") == {"dags/alpha/alpha_daily.py"}
    assert [p.number for p in fake_github.pulls(DAGS)] == [pr.number]
    out = capsys.readouterr()
    assert CANARY not in out.out + out.err
    assert all(CANARY not in json.dumps(r.json) for r in fake_github.requests)


def test_open_pr_needs_a_token_unless_dry_run(
    setup: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    assert render(setup) == 2
    assert "no GitHub token in GITHUB_TOKEN" in capsys.readouterr().err
    assert render(setup, "--dry-run") == 0
    assert fake_github.pulls(DAGS) == []


def test_render_changed_only_and_a_deleted_project_loses_its_dags(
    setup: dict[str, Any], fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    source: GitRepo = setup["source"]
    source.commit(
        "beta",
        {
            "projects/beta/somlier.yaml": PROJECT.replace("alpha", "beta"),
            "projects/beta/requirements.txt": "",
        },
    )
    assert render(setup, "--changed", "HEAD~1", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert {d["project"] for d in shown["dags"]} == {"beta"}  # alpha did not change
    origin: GitRepo = setup["origin"]
    assert files_on(origin, "somlier/beta") == {
        "dags/beta/beta_daily.py",
        "dags/beta/beta_weekly.py",
    }
    # merge the PR's branch, then delete the project: the next PR removes its DAGs
    origin.git("update-ref", "refs/heads/main", origin.rev("refs/heads/somlier/beta"))
    source.commit(
        "drop beta", {"projects/beta/somlier.yaml": None, "projects/beta/requirements.txt": None}
    )
    assert render(setup, "--changed", "HEAD~1", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dags"] == []
    [pr] = shown["pull_requests"]
    assert pr["project"] == "beta" and set(pr["removed"]) == {"beta_daily", "beta_weekly"}
    assert files_on(origin, "somlier/beta") == set()
