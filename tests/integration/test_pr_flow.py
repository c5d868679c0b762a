"""`somlier pipeline event` end to end: a PR in a real git monorepo, real builds pushed to the
real registry, and the reports through the GitHub and Slack fakes (with their faults)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.main import main
from pipeline.forge.github import API_CALLS
from tests.fakes.fixtures import fake_github_fixture, fake_slack_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack
from tests.helpers.data import webhook_payload

pytestmark = pytest.mark.integration

REPO = "acme/ml-projects"
DAGS = "acme/mlops-dags"
GITHUB_CANARY = "ghp_CANARY0123456789abcdefCANARY"
SLACK_CANARY = "xoxb-CANARY-0123456789-slack"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
    "HOME": "/tmp",
}
DOCKERFILE = (
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\n"
    'COPY ${PROJECT_DIR}/ /app/\nCMD ["cat", "/app/main.txt"]\n'
)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def add_project(root: Path, name: str) -> None:
    folder = root / "projects" / name
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "requirements.txt").write_text("")
    (folder / "main.txt").write_text(f"{name} v1\n")
    (folder / "somlier.yaml").write_text(
        f"project: {{name: {name}}}\nmodel: {{name: {name}, version: v1.0.0}}\n"
        "entrypoints: {main: {command: python}}\n"
    )


@pytest.fixture
def monorepo(tmp_path: Path) -> dict[str, Any]:
    root = tmp_path / "ml-projects"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for name in ("alpha", "beta"):
        add_project(root, name)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-qb", "feature")
    (root / "projects" / "alpha" / "main.txt").write_text("alpha v2\n")
    git(root, "commit", "-qam", "change alpha")
    return {"root": root, "base": base, "head": git(root, "rev-parse", "HEAD")}


def event_file(tmp_path: Path, number: int, base: str, head: str, action: str = "opened") -> Path:
    data = webhook_payload("pull_request.opened")
    data["action"] = action
    data["number"] = data["pull_request"]["number"] = number
    data["pull_request"]["base"]["sha"] = base
    data["pull_request"]["head"]["sha"] = head
    data["pull_request"]["draft"] = False
    data["repository"]["full_name"] = REPO
    path = tmp_path / f"event-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    docker_host: str,
    registry: str,
    busybox_image: str,
) -> dict[str, Path]:
    for key in ("GITHUB_RUN_ID", "GITHUB_REPOSITORY", "SOMLIER__REGISTRY__URL"):
        monkeypatch.delenv(key, raising=False)
    files = {"summary": tmp_path / "summary.md", "output": tmp_path / "output.txt"}
    for path in files.values():
        path.write_text("")
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_CANARY)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("SOMLIER_GITHUB_PACE", "0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_CANARY)
    monkeypatch.setenv("SOMLIER_SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.setenv("SOMLIER__REGISTRY__URL", f"{registry}/pr{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("SOMLIER__BUILDER__BASE_IMAGE", busybox_image)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    fake_github.add_repo(REPO)
    return files


def pull(fake: FakeGitHub, repo: dict[str, Any]) -> int:
    """The PR on the fake, holding the local repository's commits."""
    fake.mirror_commit(REPO, repo["base"], "main")
    fake.mirror_commit(REPO, repo["head"], "feature")
    return fake.add_pull(REPO, "feature")


def run_event(root: Path, path: Path) -> int:
    return main(
        ["pipeline", "event", "--name", "pull_request", "--path", str(path), "-C", str(root)]
    )


def no_canary(fake_github: FakeGitHub, fake_slack: FakeSlack, *texts: str) -> None:
    seen = (
        [json.dumps(r.json) for r in fake_github.requests]
        + [json.dumps(m.params) for m in fake_slack.messages]
        + list(texts)
    )
    for text in seen:
        assert GITHUB_CANARY not in text and SLACK_CANARY not in text


def test_pr_builds_changed_project_and_reports_everywhere(
    monorepo: dict[str, Any],
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number = pull(fake_github, monorepo)
    root, base, head = monorepo["root"], monorepo["base"], monorepo["head"]
    calls_before = API_CALLS.value
    assert run_event(root, event_file(tmp_path, number, base, head)) == 0
    calls = API_CALLS.value - calls_before
    assert calls <= 5 + 2 * 1, calls  # K = 1 project

    statuses = fake_github.statuses(REPO, head)
    assert [(s.context, s.state) for s in statuses] == [
        ("somlier/build/alpha", "pending"),
        ("somlier/build/alpha", "success"),
    ]
    [comment] = fake_github.comments(REPO, number)
    assert "| alpha | ✅ built |" in comment.body and "beta" not in comment.body
    [message] = fake_slack.channel_messages("dp_monitor_cicd")
    assert message.thread_ts is None and "alpha" in (message.text or "")
    assert f"<!-- somlier:slack-thread {message.ts} -->" in comment.body
    outputs = environment["output"].read_text()
    images = json.loads(outputs.split("images=", 1)[1].splitlines()[0])
    assert [i["project"] for i in images] == ["alpha"] and images[0]["digest"].startswith("sha256:")
    assert "| alpha |" in environment["summary"].read_text()
    out = capsys.readouterr()
    no_canary(fake_github, fake_slack, out.out, out.err, outputs)

    # A second push to the PR with nothing new: no build, the same comment, a thread reply.
    assert run_event(root, event_file(tmp_path, number, base, head, "synchronize")) == 0
    [comment] = fake_github.comments(REPO, number)
    assert "✅ cache hit" in comment.body
    replies = fake_slack.replies(message.ts)
    assert len(replies) == 1 and replies[0].thread_ts == message.ts


def test_a_502_after_the_comment_was_created_leaves_one_comment(
    monorepo: dict[str, Any], environment: dict[str, Path], fake_github: FakeGitHub, tmp_path: Path
) -> None:
    number = pull(fake_github, monorepo)
    fake_github.inject("POST", rf"/issues/{number}/comments$", 502, after_success=True)
    root = monorepo["root"]
    assert run_event(root, event_file(tmp_path, number, monorepo["base"], monorepo["head"])) == 0
    assert len(fake_github.comments(REPO, number)) == 1
    assert run_event(root, event_file(tmp_path, number, monorepo["base"], monorepo["head"])) == 0
    assert len(fake_github.comments(REPO, number)) == 1


def test_slack_429_then_success_delivers_once(
    monorepo: dict[str, Any],
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    number = pull(fake_github, monorepo)
    fault = fake_slack.inject("POST", r"/api/chat\.postMessage$", 429, headers={"Retry-After": "1"})
    assert (
        run_event(
            monorepo["root"], event_file(tmp_path, number, monorepo["base"], monorepo["head"])
        )
        == 0
    )
    assert len(fake_slack.channel_messages("dp_monitor_cicd")) == 1
    assert fault.spent


def test_a_slack_outage_leaves_the_build_green(
    monorepo: dict[str, Any],
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number = pull(fake_github, monorepo)
    fake_slack.stop()
    try:
        code = run_event(
            monorepo["root"], event_file(tmp_path, number, monorepo["base"], monorepo["head"])
        )
    finally:
        fake_slack.start()
    assert code == 0
    assert "warning: Slack is unreachable" in capsys.readouterr().err
    assert fake_github.statuses(REPO, monorepo["head"])[-1].state == "success"


def test_dry_run_plans_and_touches_nothing(
    monorepo: dict[str, Any],
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number = pull(fake_github, monorepo)
    path = event_file(tmp_path, number, monorepo["base"], monorepo["head"])
    before = len(fake_github.requests)
    assert (
        main(
            [
                "pipeline",
                "event",
                "--name",
                "pull_request",
                "--path",
                str(path),
                "-C",
                str(monorepo["root"]),
                "--dry-run",
            ]
        )
        == 0
    )
    planned = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in planned["projects"]] == ["alpha"]
    assert planned["projects"][0]["tags"][1:] == [f"sha-{monorepo['head'][:7]}", f"pr-{number}"]
    assert len(fake_github.requests) == before and fake_slack.messages == []
    assert environment["output"].read_text() == ""


@pytest.mark.parametrize("way", ["event", "build --main --no-dags"])
def test_a_merge_builds_with_latest_and_publishes_the_dags(
    way: str,
    tmp_path: Path,
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    make_repo: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ast

    root = tmp_path / "ml-projects"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    add_project(root, "alpha")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    before = git(root, "rev-parse", "HEAD")
    with (root / "projects" / "alpha" / "somlier.yaml").open("a") as handle:
        handle.write(
            'offline:\n  - {dag_id: alpha_daily, schedule: "0 9 * * *", command: "run main"}\n'
        )
    git(root, "commit", "-qam", "alpha gets a batch job")
    after = git(root, "rev-parse", "HEAD")

    origin = make_repo("mlops-dags.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# mlops-dags\n"})
    seed.git("push", "-q", f"file://{origin.path}", "main")
    fake_github.add_repo(DAGS)
    fake_github.mirror_commit(REPO, before, "main")
    fake_github.mirror_commit(REPO, after, "main")

    fake_github.follow_origin(DAGS, origin.path)  # the pushed branches, as GitHub sees them
    monkeypatch.setenv("SOMLIER__GITHUB__DAGS_REPO", DAGS)
    monkeypatch.setenv("SOMLIER_DAGS_CLONE_URL", f"file://{origin.path}")

    data = webhook_payload("push")
    data.update(
        ref=f"refs/heads/{data['repository']['default_branch']}", before=before, after=after
    )
    data["repository"]["full_name"] = REPO
    event = tmp_path / "push.json"
    event.write_text(json.dumps(data))
    if way == "event":
        args = ["pipeline", "event", "--name", "push", "--path", str(event)]
    else:  # a CI job that leaves the DAGs to a later one, holding the dags repository's token
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        args = ["pipeline", "build", "--base", before, "--head", after, "--main", "--no-dags"]
    code = main([*args, "-C", str(root), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    [image] = result["images"]
    assert image["project"] == "alpha" and "latest" in image["tags"]
    if way != "event":
        assert result["dags"] == [] and fake_github.pulls(DAGS) == []
        assert "somlier/alpha" not in origin.git("branch", "--list", "somlier/*")
        no_canary(fake_github, fake_slack, out.out, out.err)
        return
    assert [d["status"] for d in result["dags"]] == ["opened"]
    [pr] = fake_github.pulls(DAGS)
    dag = origin.git("show", "somlier/alpha:dags/alpha/alpha_daily.py")
    call = next(
        n
        for n in ast.walk(ast.parse(dag))
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "MLOpsOfflineOperator"
    )
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    # The DAG runs the image this merge pushed, by its immutable sha- tag.
    assert kwargs["ml_project_docker_image"] == f"{image['image']}:sha-{after[:7]}"
    assert kwargs["command"] == ["run", "main"]
    assert pr.number >= 1
    assert len(fake_slack.channel_messages("dp_monitor_cicd")) == 1
    no_canary(fake_github, fake_slack, out.out, out.err)


def test_a_pr_editing_the_platform_settings_runs_on_the_base_branch_settings(
    monorepo: dict[str, Any],
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The attack: the platform file may read any variable (it names the secrets), so a PR
    that edits it would send the runner's tokens wherever it likes (here: into the Slack
    channel's name and the reports' repository). Its own run reads the base commit's file."""
    root = monorepo["root"]
    git(root, "checkout", "-q", monorepo["base"])
    (root / ".somlier").mkdir()
    (root / ".somlier" / "platform.yaml").write_text("slack: {channel: dp_monitor_cicd}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "platform settings")
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-qB", "feature")
    (root / ".somlier" / "platform.yaml").write_text(
        "slack: {channel: 'leak-${SLACK_BOT_TOKEN}'}\n"
        "github: {projects_repo: 'evil/${GITHUB_TOKEN}'}\n"
    )
    (root / "projects" / "alpha" / "main.txt").write_text("alpha v3\n")
    git(root, "commit", "-qam", "change alpha and the settings")
    head = git(root, "rev-parse", "HEAD")
    number = pull(fake_github, {"base": base, "head": head})

    assert run_event(root, event_file(tmp_path, number, base, head)) == 0

    [message] = fake_slack.messages
    assert message.params["channel"] == "dp_monitor_cicd"
    # Reported to the projects repository (a settings change rebuilds every project).
    final = {s.context: s.state for s in fake_github.statuses(REPO, head)}
    assert final == {"somlier/build/alpha": "success", "somlier/build/beta": "success"}
    assert not [r for r in fake_github.requests if "evil" in r.path]
    out = capsys.readouterr()
    no_canary(fake_github, fake_slack, out.out, out.err, environment["output"].read_text())


def test_a_pr_base_without_settings_gets_the_defaults_and_an_unknown_base_is_refused(
    monorepo: dict[str, Any],
    environment: dict[str, Path],
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = monorepo["root"]
    (root / ".somlier").mkdir()
    (root / ".somlier" / "platform.yaml").write_text("slack: {channel: 'x-${SLACK_BOT_TOKEN}'}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the PR adds settings")
    head = git(root, "rev-parse", "HEAD")
    number = pull(fake_github, {"base": monorepo["base"], "head": head})
    assert run_event(root, event_file(tmp_path, number, monorepo["base"], head)) == 0
    [message] = fake_slack.messages
    assert message.params["channel"] == "#dp_monitor_cicd"  # the default, not the PR's file

    unknown = "0" * 40
    assert run_event(root, event_file(tmp_path, number, unknown, head)) == 2
    assert "unknown revision" in capsys.readouterr().err
