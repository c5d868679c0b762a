"""A global change on a monorepo past GitHub's 256 jobs per matrix: ``pipeline changed
--matrix`` splits it into at most 256 balanced batches that cover every project once, a batch
job builds its projects with ``pipeline build --results`` and posts nothing, and the one report
job (``pipeline report``) posts one PR comment, one Slack message and one summarised status
(the GitHub and Slack fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.images.outcome import Outcome
from pipeline.images.refs import BuildContext
from pipeline.steps import batch_results
from pipeline.steps.image_step import ImageStepResult
from tests.fakes.fixtures import fake_github_fixture, fake_slack_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack
from tests.helpers.git import GitRepo

pytestmark = pytest.mark.integration

SOMLIER = Path(sys.executable).parent / "somlier"
REPO = "acme/ml-projects"
PROJECTS = 310
DOCKERFILE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\nCOPY ${PROJECT_DIR}/ /app/\n"


def project(i: int) -> dict[str, str]:
    name = f"p{i:03d}"
    return {
        f"projects/{name}/somlier.yaml": (
            f"project: {{name: {name}}}\nmodel: {{name: {name}, version: v1.0.0}}\n"
            "entrypoints: {main: {command: python}}\n"
        ),
        f"projects/{name}/Dockerfile": DOCKERFILE,
        f"projects/{name}/requirements.txt": "",
    }


@pytest.fixture
def monorepo(git_repo: GitRepo) -> tuple[GitRepo, str, str]:
    files = {".somlier/platform.yaml": "monorepo: {global_paths: ['libs/common/**']}\n"}
    for i in range(PROJECTS):
        files.update(project(i))
    base = git_repo.commit("310 projects", {**files, "libs/common/util.py": "A = 1\n"})
    git_repo.git("switch", "-q", "-c", "global")
    head = git_repo.commit("a global change", {"libs/common/util.py": "A = 2\n"})
    return git_repo, base, head


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "SOMLIER_", "SLACK_", "DOCKER_"))
    }
    return {**env, "CI": "true", **extra}


def somlier(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SOMLIER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_global_change_is_batched_built_per_batch_and_reported_once(
    monorepo: tuple[GitRepo, str, str],
    tmp_path: Path,
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    docker_host: str,
    registry: str,
    busybox_image: str,
) -> None:
    repo, base, head = monorepo
    done = somlier(repo.path, clean_env(), "pipeline", "changed", "--base", "main", "--matrix")
    assert done.returncode == 0, done.stderr
    jobs = json.loads(done.stdout)["include"]
    assert len(jobs) == 256  # GitHub's limit, not one job per project
    folders = [folder for job in jobs for folder in job["path"].split(" ")]
    assert sorted(folders) == [f"projects/p{i:03d}" for i in range(PROJECTS)]  # each once
    assert {job["count"] for job in jobs} == {1, 2}  # balanced
    assert jobs[0]["project"] == "p000..p001 (2 projects)" and jobs[-1]["project"] == "p309"
    few = somlier(
        repo.path,
        clean_env(),
        "pipeline",
        "changed",
        "--base",
        "main",
        "--matrix",
        "--max-jobs",
        "8",
    )
    assert [job["count"] for job in json.loads(few.stdout)["include"]] == [39] * 6 + [38] * 2

    fake_github.add_repo(REPO)
    fake_github.mirror_commit(REPO, base, "main")
    fake_github.mirror_commit(REPO, head, "global")
    number = fake_github.add_pull(REPO, "global")
    github = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "ghp_test",
        "GITHUB_API_URL": fake_github.url,
        "SOMLIER_GITHUB_PACE": "0",
    }
    # The first batch job, for real: its two projects built and pushed, nothing posted.
    results = tmp_path / "results"
    env = clean_env(
        **github,
        DOCKER_HOST=docker_host,
        SOMLIER__REGISTRY__URL=f"{registry}/batch{uuid.uuid4().hex[:8]}",
        SOMLIER__BUILDER__BASE_IMAGE=busybox_image,
    )
    argv = [f"--project={folder}" for folder in jobs[0]["path"].split(" ")]
    done = somlier(
        repo.path,
        env,
        "pipeline",
        "build",
        *argv,
        "--pr",
        str(number),
        "--jobs",
        "2",
        "--results",
        str(results / "0" / "batch.json"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)["images"]
    assert [i["project"] for i in built] == ["p000", "p001"]
    assert fake_github.requests == [] and fake_slack.messages == []
    # The other 255 batches' results, as their jobs leave them (building 308 more images
    # here would only repeat the build above).
    for index, job in enumerate(jobs[1:], 1):
        outcomes = tuple(
            Outcome(
                project=folder.rpartition("/")[2],
                path=folder,
                image=f"reg/{folder}",
                tags=("src-1", f"pr-{number}"),
                ok=True,
                cache_hit=True,
            )
            for folder in job["path"].split(" ")
        )
        result = ImageStepResult(BuildContext("pr", head, number), (), outcomes)
        batch_results.write(result, results / str(index) / "batch.json")

    summary = tmp_path / "summary.md"
    env = clean_env(
        **github,
        SLACK_BOT_TOKEN="xoxb-test",
        SOMLIER_SLACK_API_URL=fake_slack.api_url,
        GITHUB_STEP_SUMMARY=str(summary),
    )
    done = somlier(repo.path, env, "pipeline", "report", str(results), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["images"]) == PROJECTS and report["failed"] == []
    [comment] = fake_github.comments(REPO, number)
    assert "| p000 | ✅ built |" in comment.body and "| p309 | ✅ cache hit |" in comment.body
    statuses = fake_github.statuses(REPO, head)
    assert [(s.context, s.state) for s in statuses] == [("somlier/build/all", "success")]
    assert "310 images: 2 built, 308 cache hits, 0 failed" in statuses[0].description
    assert len(fake_slack.channel_messages("dp_monitor_cicd")) == 1
    assert report["api_calls"] == fake_github.api_calls <= 5
    assert f"GitHub API calls this run: {report['api_calls']}" in summary.read_text()

    # Run again (a re-run of the report job): the same comment is updated, not a second one.
    done = somlier(repo.path, env, "pipeline", "report", str(results))
    assert done.returncode == 0, done.stderr
    assert len(fake_github.comments(REPO, number)) == 1
