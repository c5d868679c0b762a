"""PR comment commands end to end: ``somlier pipeline event`` on issue_comment payloads (the real
fixture, varied) against the fake GitHub, through PyGithub. A refused command must leave no
trace but the reactions and its reply; nothing in a comment may reach a shell."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from pipeline.chatops.dispatch import ActionContext, ActionResult
from pipeline.chatops.handle import handle
from pipeline.chatops.parse import Command
from pipeline.cli.main import main
from pipeline.cli.wiring import forge_for
from pipeline.config.settings import PlatformSettings
from tests.fakes.chatops import REPO, comment_payload
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub

pytestmark = pytest.mark.integration

OWNERS = ".somlier/OWNERS.yaml"
READS = ("GET",)


@pytest.fixture
def pr(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    fake_github.add_repo(
        REPO,
        files={
            "README.md": "# ml-projects\n",
            OWNERS: "environments:\n  prod: {users: [alice], teams: [sre]}\n",
        },
    )
    fake_github.add_collaborator(REPO, "alice", "write")
    fake_github.add_collaborator(REPO, "bob", "maintain")
    fake_github.add_collaborator(REPO, "reader", "read")
    number = fake_github.add_pull(REPO, "feature", user="alice")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token_0123456789")
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("SOMLIER_GITHUB_PACE", "0")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return {"number": number, "fake": fake_github}


class Models:
    """A real MLflow registry (SQLite) holding versions 1 to 3 of ``churn`` and
    ``iris-classifier``, all registered from one run; :meth:`built_from` sets the commit that
    run records (its ``somlier.commit`` tag), which the prod approval check reads."""

    def __init__(self, root: Path) -> None:
        import mlflow

        self.uri = f"sqlite:///{root / 'mlflow.db'}"
        self.client = mlflow.MlflowClient(self.uri, registry_uri=self.uri)
        experiment = self.client.create_experiment("chatops", (root / "artifacts").as_uri())
        self.run_id = self.client.create_run(experiment).info.run_id
        for name in ("churn", "iris-classifier"):
            self.client.create_registered_model(name)
            for _ in range(3):
                source = f"runs:/{self.run_id}/model"
                self.client.create_model_version(name, source, run_id=self.run_id)

    def built_from(self, sha: str) -> None:
        self.client.set_tag(self.run_id, "somlier.commit", sha)


@pytest.fixture(scope="module")
def registry_models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return Models(tmp_path_factory.mktemp("chatops-mlflow"))


@pytest.fixture
def models(registry_models: Models, monkeypatch: pytest.MonkeyPatch) -> Models:
    """The registry, as the runner's MLFLOW_TRACKING_URI; its run made from nothing yet."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry_models.uri)
    registry_models.built_from("0" * 40)
    return registry_models


def comment(fake: FakeGitHub, number: int, body: str, login: str, **kw: Any) -> dict[str, Any]:
    ident = fake.add_comment(REPO, number, body, user=login)
    return comment_payload(body, login=login, number=number, comment_id=ident, **kw)


def event(tmp_path: Path, payload: dict[str, Any], *args: str) -> int:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    argv = ["pipeline", "event", "--name", "issue_comment", "--path", str(path)]
    return main([*argv, "-C", str(tmp_path), *args])


def writes(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.route or r.path) for r in fake.requests if r.method not in READS]


def replies(fake: FakeGitHub, number: int) -> list[str]:
    return [c.body for c in fake.comments(REPO, number) if "somlier:chatops" in c.body]


def reactions(fake: FakeGitHub, comment_id: int) -> list[str]:
    return [r.content for r in fake.comments_by_id[comment_id].reactions]


REACT = ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
REPLY = ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")


def test_an_unauthorised_user_gets_a_refusal_and_nothing_else_happens(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, number = pr["fake"], pr["number"]
    payload = comment(fake, number, "/deploy churn 3", "reader")
    payload["comment"]["author_association"] = "OWNER"  # a lie the API role overrides
    assert event(tmp_path, payload) == 1
    assert "refused" in capsys.readouterr().out
    (reply,) = replies(fake, number)
    assert "@reader has 'read' permission" in reply and "Nothing was changed" in reply
    assert reactions(fake, payload["comment"]["id"]) == ["eyes", "confused"]
    assert writes(fake) == [REACT, REPLY, REACT]
    assert fake.pulls(REPO)[0].number == number and len(fake.pulls(REPO)) == 1


@pytest.mark.parametrize(
    ("login", "changes"),
    [
        ("alice", {"action": "edited"}),
        ("alice", {"action": "deleted"}),
        ("somlier-bot[bot]", {"user_type": "Bot"}),
    ],
)
def test_edits_deletions_and_bots_are_ignored_without_a_request(
    pr: dict[str, Any],
    tmp_path: Path,
    login: str,
    changes: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, number = pr["fake"], pr["number"]
    payload = comment(fake, number, "/deploy churn 3", login, **changes)
    before = len(fake.requests)
    assert event(tmp_path, payload, "--json") == 0
    assert json.loads(capsys.readouterr().out)["ignored"] is True
    assert len(fake.requests) == before


def test_shell_metacharacters_are_refused_and_run_nothing(
    pr: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a process was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    fake, number = pr["fake"], pr["number"]
    canary = tmp_path / "pwned"
    body = f"/deploy churn 3 $(touch {canary})\n/build alpha;touch {canary}\n/dag `id`"
    payload = comment(fake, number, body, "bob")
    assert event(tmp_path, payload) == 1
    assert not canary.exists()
    assert len(replies(fake, number)) == 3
    assert all("**refused**" in r for r in replies(fake, number))
    # refused as written: not even the permission was read
    assert not any("/permission" in r.path for r in fake.requests)


def test_prod_without_approval_is_refused_and_approved_is_planned(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], models: Models
) -> None:
    fake, number = pr["fake"], pr["number"]
    models.built_from(str(fake.ref_sha(REPO, "refs/heads/feature")))  # churn 3: from the PR head
    payload = comment(fake, number, "/deploy churn 3 --env prod", "alice")
    assert event(tmp_path, payload, "--dry-run") == 1
    (refused,) = json.loads(capsys.readouterr().out)["commands"]
    assert refused["decision"] == "refused" and "approved" in refused["reason"]
    fake.add_review(REPO, number, "reader", "APPROVED")  # a reader's approval counts for nothing
    assert event(tmp_path, payload, "--dry-run") == 1
    capsys.readouterr()
    fake.add_review(REPO, number, "bob", "APPROVED")
    assert event(tmp_path, payload, "--dry-run") == 0
    (planned,) = json.loads(capsys.readouterr().out)["commands"]
    head = fake.ref_sha(REPO, "refs/heads/feature")
    assert planned["decision"] == "planned" and planned["head_sha"] == head
    fake.set_mergeable(REPO, number, False)
    assert event(tmp_path, payload, "--dry-run") == 1
    assert "mergeable" in json.loads(capsys.readouterr().out)["commands"][0]["reason"]
    assert writes(fake) == []  # --dry-run: reads only


def test_an_approval_of_an_older_head_does_not_count(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, number = pr["fake"], pr["number"]
    fake.add_review(REPO, number, "bob", "APPROVED")
    fake.add_commit(REPO, "feature", {"model.py": "changed after the review\n"})
    payload = comment(fake, number, "/deploy churn 3 --env prod", "alice")
    assert event(tmp_path, payload, "--dry-run") == 1
    assert "approved" in json.loads(capsys.readouterr().out)["commands"][0]["reason"]


def test_an_allowlist_change_made_in_the_pr_itself_has_no_effect(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, number = pr["fake"], pr["number"]
    fake.add_collaborator(REPO, "mallory", "write")
    fake.add_commit(REPO, "feature", {OWNERS: "environments:\n  prod: {users: [alice, mallory]}\n"})
    fake.add_review(REPO, number, "bob", "APPROVED")
    payload = comment(fake, number, "/deploy churn 3 --env prod", "mallory")
    assert event(tmp_path, payload, "--dry-run") == 1
    (verdict,) = json.loads(capsys.readouterr().out)["commands"]
    assert "not on the allowlist of environment 'prod'" in verdict["reason"]
    contents = [r for r in fake.requests if "/contents/" in r.path]
    assert contents and all(r.query.get("ref") == "main" for r in contents)


def test_team_membership_opens_an_allowlist(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], models: Models
) -> None:
    fake, number = pr["fake"], pr["number"]
    models.built_from(str(fake.ref_sha(REPO, "refs/heads/feature")))
    fake.add_review(REPO, number, "alice", "APPROVED")
    payload = comment(fake, number, "/deploy churn 3 --env prod", "bob")
    assert event(tmp_path, payload, "--dry-run") == 1
    capsys.readouterr()
    fake.add_team_member("acme", "sre", "bob", state="pending")
    assert event(tmp_path, payload, "--dry-run") == 1
    capsys.readouterr()
    fake.add_team_member("acme", "sre", "bob")
    assert event(tmp_path, payload, "--dry-run") == 0
    assert json.loads(capsys.readouterr().out)["commands"][0]["decision"] == "planned"


class PushDuringWork:
    """An action table whose first action sees a push land on the PR branch."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.ran: list[str] = []

    def __call__(self, command: Command, ctx: ActionContext) -> ActionResult:
        self.ran.append(command.text)
        self.fake.add_commit(REPO, "feature", {"late.txt": "pushed meanwhile\n"})
        return ActionResult(True, "built")


def test_a_moved_head_aborts_the_next_command(pr: dict[str, Any]) -> None:
    fake, number = pr["fake"], pr["number"]
    action = PushDuringWork(fake)
    payload = comment(fake, number, "/build alpha\n/deploy churn 3", "alice")
    settings = PlatformSettings()
    environ = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": fake.url, "SOMLIER_GITHUB_PACE": "0"}
    report = handle(
        "issue_comment",
        payload,
        forge_for=forge_for(settings, environ),
        actions={"build": action, "deploy": action},
        dry_run=False,
        log=lambda line: None,
    )
    assert action.ran == ["/build alpha"]
    states = [c["state"] for c in report.to_json()["commands"]]
    assert states == ["done", "aborted"]
    first, second = replies(fake, number)
    assert "**done**" in first and "**aborted**" in second and "head moved" in second
    assert reactions(fake, payload["comment"]["id"]) == ["eyes", "confused"]


def test_help_replies_once_and_a_rerun_edits_the_reply(pr: dict[str, Any], tmp_path: Path) -> None:
    fake, number = pr["fake"], pr["number"]
    payload = comment(fake, number, "/help", "reader")
    assert event(tmp_path, payload) == 0
    assert event(tmp_path, payload) == 0
    (reply,) = replies(fake, number)
    assert "/deploy MODEL VERSION" in reply
    assert reactions(fake, payload["comment"]["id"]) == ["eyes", "rocket"]


# /build for real: the default branch's checkout, the PR head in a worktree, Docker, a registry

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
    "HOME": "/tmp",
}
DOCKERFILE = (
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\n"
    'COPY ${PROJECT_DIR}/ /app/\nCMD ["cat", "/app/main.txt"]\n'
)


def git(root: Path, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def monorepo(tmp_path: Path, registry: str) -> dict[str, Any]:
    """ml-projects with project alpha; the PR (branch feature) changes alpha and, on the way,
    tries to point the registry somewhere else. The work tree stays on main, as the comment
    workflow checks it out."""
    root = tmp_path / "ml-projects"
    folder = root / "projects" / "alpha"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "requirements.txt").write_text("")
    (folder / "main.txt").write_text("alpha v1\n")
    (folder / "somlier.yaml").write_text(
        "project: {name: alpha}\nmodel: {name: alpha, version: v1.0.0}\n"
        "entrypoints: {main: {command: python}}\n"
    )
    prefix = f"{registry}/chatops{uuid.uuid4().hex[:8]}"
    (root / ".somlier").mkdir()
    (root / ".somlier" / "platform.yaml").write_text(f"registry: {{url: {prefix}}}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-qb", "feature")
    (folder / "main.txt").write_text("alpha v2\n")
    (root / ".somlier" / "platform.yaml").write_text("registry: {url: 127.0.0.1:9/evil}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "change alpha")
    head = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "main")
    return {"root": root, "base": base, "head": head, "prefix": prefix}


def test_build_runs_the_pr_head_with_the_default_branch_settings(
    fake_github: FakeGitHub,
    monorepo: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    docker_host: str,
    registry: str,
    busybox_image: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import subprocess

    prefix = monorepo["prefix"]  # from main's platform.yaml; the PR's points elsewhere
    for key in (
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_RUN_ID",
        "SLACK_BOT_TOKEN",
        "GITHUB_ACTIONS",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token_0123456789")
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("SOMLIER_GITHUB_PACE", "0")
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.delenv("SOMLIER__REGISTRY__URL", raising=False)
    monkeypatch.setenv("SOMLIER__BUILDER__BASE_IMAGE", busybox_image)
    root, head = monorepo["root"], monorepo["head"]
    fake_github.add_repo(REPO)
    fake_github.add_collaborator(REPO, "alice", "write")
    fake_github.mirror_commit(REPO, monorepo["base"], "main")
    fake_github.mirror_commit(REPO, head, "feature")
    number = fake_github.add_pull(REPO, "feature", user="alice")
    payload = comment(fake_github, number, "/build alpha", "alice")
    path = root.parent / "event.json"
    path.write_text(json.dumps(payload))

    code = main(
        [
            "pipeline",
            "event",
            "--name",
            "issue_comment",
            "--path",
            str(path),
            "-C",
            str(root),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    (done,) = out["commands"]
    assert done["state"] == "done"
    (image,) = done["details"]["images"]
    assert image["image"] == f"{prefix}/alpha" and f"pr-{number}" in image["tags"]
    (reply,) = replies(fake_github, number)
    assert f"`{prefix}/alpha:" in reply and "**done**" in reply
    # the image holds the PR head's file, pulled back from the registry
    env = {**GIT_ENV, "DOCKER_HOST": docker_host}
    ran = subprocess.run(
        ["docker", "run", "--rm", "--network", "host", f"{prefix}/alpha:pr-{number}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout == "alpha v2\n"
    # the checkout is untouched and no worktree is left behind
    assert git(root, "rev-parse", "HEAD") == monorepo["base"]
    assert len(git(root, "worktree", "list", "--porcelain").split("worktree ")) == 2


def test_when_github_cannot_say_who_may_act_nothing_runs(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, number = pr["fake"], pr["number"]
    fake.inject("GET", r"/collaborators/.*/permission$", 403)
    payload = comment(fake, number, "/deploy churn 3", "alice")
    assert event(tmp_path, payload, "--json") == 1
    (item,) = json.loads(capsys.readouterr().out)["commands"]
    assert item["state"] == "failed" and "403" in item["message"]
    (reply,) = replies(fake, number)
    assert "nothing was run" in reply
    assert writes(fake) == [REACT, REPLY, REACT]


class Done:
    def __call__(self, command: Command, ctx: ActionContext) -> ActionResult:
        return ActionResult(True, "ok")


@pytest.mark.parametrize(
    ("body", "budget"),
    [
        # role, OWNERS, PR | eyes, list replies, reply "running", head, reply "done", rocket
        ("/deploy churn 3", 9),
        # the same, plus the PR's reviews, the approver's role and the PR's commits, and
        # the PR with its reviews again right before the action (prod)
        ("/deploy churn 3 --env prod", 14),
        # refused as written: eyes, list replies, reply, confused
        ("/deploy churn $(id)", 4),
    ],
)
def test_github_requests_per_command(pr: dict[str, Any], body: str, budget: int) -> None:
    fake, number = pr["fake"], pr["number"]
    fake.add_review(REPO, number, "bob", "APPROVED")
    payload = comment(fake, number, body, "alice")
    settings = PlatformSettings()
    environ = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": fake.url, "SOMLIER_GITHUB_PACE": "0"}
    head = str(fake.ref_sha(REPO, "refs/heads/feature"))
    before = fake.api_calls
    report = handle(
        "issue_comment",
        payload,
        forge_for=forge_for(settings, environ),
        actions={"deploy": Done()},
        dry_run=False,
        log=lambda line: None,
        provenance=lambda model, version: (head,),
    )
    assert fake.api_calls - before == budget
    assert report.ok == ("$" not in body)


# /dag for real: the PR head's offline jobs, rendered on its image, pushed to a bare dags origin

DAGS = "acme/mlops-dags"
ALPHA = """\
project: {name: alpha}
model: {name: alpha, version: v1.0.0}
entrypoints:
  main: {command: python, args: [main.py]}
offline:
  - {dag_id: alpha_daily, schedule: "0 9 * * *", entrypoint: main}
"""


def test_dag_publishes_the_pr_heads_jobs_on_its_image(
    make_repo: Any,
    fake_github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ast
    import os

    origin = make_repo("mlops-dags.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# mlops-dags\n"})
    seed.git("push", "-q", f"file://{origin.path}", "main")
    source = make_repo("ml-projects")
    base = source.commit(
        "monorepo",
        {
            "projects/alpha/somlier.yaml": ALPHA,
            "projects/alpha/requirements.txt": "",
            ".somlier/platform.yaml": f"registry: {{url: reg.example/ml}}\n"
            f"github: {{dags_repo: {DAGS}}}\n",
        },
    )
    source.git("switch", "-q", "-c", "feature")
    weekly = '  - {dag_id: alpha_weekly, schedule: "@weekly", entrypoint: main}\n'
    head = source.commit("a weekly job", {"projects/alpha/somlier.yaml": ALPHA + weekly})
    source.git("switch", "-q", "main")

    fake_github.follow_origin(DAGS, origin.path)  # the push to the bare origin, as GitHub sees it
    for key in [k for k in os.environ if k.startswith(("SOMLIER__", "GITHUB_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token_0123456789")
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("SOMLIER_GITHUB_PACE", "0")
    monkeypatch.setenv("SOMLIER_DAGS_CLONE_URL", f"file://{origin.path}")
    fake_github.add_repo(DAGS)
    fake_github.add_repo(REPO)
    fake_github.add_collaborator(REPO, "alice", "write")
    fake_github.mirror_commit(REPO, base, "main")
    fake_github.mirror_commit(REPO, head, "feature")
    number = fake_github.add_pull(REPO, "feature", user="alice")
    payload = comment(fake_github, number, "/dag alpha", "alice")
    path = source.path.parent / "event.json"
    path.write_text(json.dumps(payload))

    argv = ["pipeline", "event", "--name", "issue_comment", "--path", str(path)]
    code = main([*argv, "-C", str(source.path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    (done,) = out["commands"]
    assert [d["status"] for d in done["details"]["dags"]] == ["opened"]
    listed = origin.git("ls-tree", "-r", "--name-only", "somlier/alpha", "--", "dags/").split()
    assert sorted(listed) == ["dags/alpha/alpha_daily.py", "dags/alpha/alpha_weekly.py"]
    tree = ast.parse(origin.git("show", "somlier/alpha:dags/alpha/alpha_weekly.py"))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert f"reg.example/ml/alpha:sha-{head[:7]}" in strings
    (dags_pr,) = fake_github.pulls(DAGS)
    (reply,) = replies(fake_github, number)
    assert "**done**" in reply and f"opened the pull request #{dags_pr.number}" in reply
    assert source.rev("HEAD") == base


def test_in_github_actions_build_and_dag_never_run_the_pr_code(
    pr: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue_comment workflow holds the repository's secrets: /build and /dag, which run
    the PR's code, are answered with where to do it instead; nothing is built or published."""
    fake, number = pr["fake"], pr["number"]
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    payload = comment(fake, number, "/build alpha\n/dag", "alice")
    assert event(tmp_path, payload) == 1
    texts = replies(fake, number)
    assert len(texts) == 2
    for text in texts:
        assert "pull_request workflow" in text and "somlier api" in text
    assert {w for w in writes(fake)} <= {
        REACT,
        REPLY,
        ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    }


DEPLOY = "acme/mlops-deploy"


def gitops_world(
    make_repo: Any,
    fake_github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    docker_host: str,
    busybox_image: str,
    registry: str,
) -> tuple[str, str, Any, Any]:
    """What a `/deploy` on Kubernetes needs: the serving image in the registry (its digest and
    the image prefix), the
    deploy repository (a bare origin GitHub follows), the monorepo on `main` with its platform
    settings (mirrored), `alice` a writer, and nothing of the test runner's environment."""
    import os
    import uuid

    from tests.helpers.kube_deploy import publish_serving_tag

    prefix = f"chatops-{uuid.uuid4().hex[:8]}-"
    digest = publish_serving_tag(docker_host, busybox_image, registry, prefix, "iris-classifier-v3")
    origin = make_repo("mlops-deploy.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# mlops-deploy\n"})
    seed.git("push", "-q", f"file://{origin.path}", "main")
    source = make_repo("ml-projects")
    base = source.commit(
        "monorepo",
        {
            ".somlier/platform.yaml": f"registry: {{url: '{registry}', image_prefix: {prefix},"
            f" insecure: true}}\ngithub: {{deploy_repo: {DEPLOY}}}\n",
        },
    )
    fake_github.follow_origin(DEPLOY, origin.path)  # the push to the bare origin, as GitHub sees it
    for key in [k for k in os.environ if k.startswith(("SOMLIER__", "GITHUB_", "MLFLOW_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token_0123456789")
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("SOMLIER_GITHUB_PACE", "0")
    monkeypatch.setenv("SOMLIER_DEPLOY_CLONE_URL", f"file://{origin.path}")
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    fake_github.add_repo(DEPLOY)
    fake_github.add_repo(REPO)
    fake_github.add_collaborator(REPO, "alice", "write")
    fake_github.mirror_commit(REPO, base, "main")
    return digest, prefix, origin, source


def test_deploy_opens_the_gitops_pr_and_replies_with_it(
    make_repo: Any,
    fake_github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_host: str,
    busybox_image: str,
    registry: str,
) -> None:
    """`/deploy MODEL VERSION` end to end: the comment, the permission check, the deploy flow of
    `online deploy --use_k8s` (the serving image found in the registry by its tag, manifests
    rendered and validated, pushed to the deploy repository), the PR there, the reply here."""

    import yaml

    from pipeline.online import kube_validate

    digest, prefix, origin, source = gitops_world(
        make_repo, fake_github, monkeypatch, docker_host, busybox_image, registry
    )
    head = source.commit("a model change", {"projects/README.md": "models\n"})
    fake_github.mirror_commit(REPO, head, "feature")
    number = fake_github.add_pull(REPO, "feature", user="alice")
    payload = comment(fake_github, number, "/deploy iris-classifier 3 --istio", "alice")
    path = source.path.parent / "event.json"
    path.write_text(json.dumps(payload))

    argv = ["pipeline", "event", "--name", "issue_comment", "--path", str(path)]
    code = main([*argv, "-C", str(source.path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    (deploy_pr,) = fake_github.pulls(DEPLOY)
    assert (
        deploy_pr.pull is not None
        and deploy_pr.pull.head_ref == "somlier/deploy/iris-classifier-dev"
    )
    names = origin.git("ls-tree", "-r", "--name-only", deploy_pr.pull.head_ref).split()
    documents = [
        yaml.safe_load(origin.git("show", f"{deploy_pr.pull.head_ref}:{name}"))
        for name in names
        if name.startswith("dev/iris-classifier/")
    ]
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "Service", "VirtualService"} <= kinds
    kube_validate.validate_manifests(
        [d for d in documents if d["kind"] != "VirtualService"], kubernetes_version="1.30"
    )
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{registry}/{prefix}model-serving@{digest}"
    (reply,) = replies(fake_github, number)
    assert "**done**" in reply and f"#{deploy_pr.number}" in reply


# issue 14: what readers cannot see, spellings of a model, what a prod approval covers


def test_a_quote_reply_of_a_hidden_command_runs_nothing_as_the_writer(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An outsider hides a prod deploy in a quote (U+2028 is no line break to GitHub) and in a
    fence holding a `~~~` line; a writer's "Quote reply" carries it quoted: nothing runs."""
    fake, number = pr["fake"], pr["number"]
    hidden = "> I agree\u2028/deploy churn 3 --env prod\n\n```\n~~~\n/deploy churn 3\n```\n"
    outsider = comment(fake, number, hidden, "reader")
    quoted = "".join(f"> {line}\n" for line in hidden.split("\n"))
    writer = comment(fake, number, f"{quoted}\nThanks, will look.", "alice")
    before = len(fake.requests)
    for payload in (outsider, writer):
        assert event(tmp_path, payload, "--json") == 0
        assert json.loads(capsys.readouterr().out)["reason"] == "no command in the comment"
    assert len(fake.requests) == before  # not even a reaction


def test_another_spelling_of_a_model_does_not_get_around_its_allowlist(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, number = pr["fake"], pr["number"]
    owners = "projects:\n  churn-model: {users: [alice]}\n"
    fake.add_commit(REPO, "main", {OWNERS: owners})
    body = "/rollback CHURN-MODEL --env prod\n/deploy churn_model 3\n/deploy Churn.Model 3"
    payload = comment(fake, number, body, "bob")
    assert event(tmp_path, payload, "--json") == 1
    commands = json.loads(capsys.readouterr().out)["commands"]
    assert [c["state"] for c in commands] == ["refused"] * 3
    assert all(
        "@bob is not on the allowlist of project 'churn-model'" in c["message"] for c in commands
    )
    assert writes(fake) == [REACT, REPLY, REPLY, REPLY, REACT]  # no push, no PR


def test_an_approved_pr_into_a_side_branch_authorises_no_prod_deploy(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], models: Models
) -> None:
    fake = pr["fake"]
    fake.add_branch(REPO, "sandbox")
    number = fake.add_pull(REPO, "side-work", base="sandbox", user="alice")
    fake.add_review(REPO, number, "bob", "APPROVED")
    models.built_from(str(fake.ref_sha(REPO, "refs/heads/side-work")))
    payload = comment(fake, number, "/deploy churn 3 --env prod", "alice")
    assert event(tmp_path, payload, "--dry-run") == 1
    (verdict,) = json.loads(capsys.readouterr().out)["commands"]
    assert verdict["decision"] == "refused"
    assert "into the default branch 'main'; this one targets 'sandbox'" in verdict["reason"]


def test_an_approval_covers_only_versions_built_from_the_prs_commits(
    pr: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], models: Models
) -> None:
    fake, number = pr["fake"], pr["number"]
    fake.add_review(REPO, number, "bob", "APPROVED")
    payload = comment(fake, number, "/deploy churn 3 --env prod", "alice")
    main = str(fake.ref_sha(REPO, "refs/heads/main"))
    for built, why in (("0" * 40, "not a commit of this pull request"), (main, "not a commit")):
        models.built_from(built)  # a version trained elsewhere, or on the default branch
        assert event(tmp_path, payload, "--dry-run") == 1
        (verdict,) = json.loads(capsys.readouterr().out)["commands"]
        assert verdict["decision"] == "refused" and why in verdict["reason"]
    models.built_from(str(fake.ref_sha(REPO, "refs/heads/feature")))
    assert event(tmp_path, payload, "--dry-run") == 0
    assert writes(fake) == []
    requested = [r.path for r in fake.requests]
    assert any(p.endswith(f"/pulls/{number}/commits") for p in requested)


def test_a_prod_approval_dismissed_while_deploying_stops_the_push(
    make_repo: Any,
    fake_github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_host: str,
    busybox_image: str,
    registry: str,
    registry_models: Models,
) -> None:
    """`/deploy MODEL VERSION --env prod` end to end; the approval is dismissed after the
    command was accepted, while the image is looked up: the push to the deploy repository
    never happens. Approved again, the same comment deploys."""

    from pipeline.online import kube_deploy

    _, _, origin, source = gitops_world(
        make_repo, fake_github, monkeypatch, docker_host, busybox_image, registry
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry_models.uri)
    fake_github.add_collaborator(REPO, "bob", "write")
    head = source.commit("a model change", {"projects/README.md": "models\n"})
    fake_github.mirror_commit(REPO, head, "feature")
    number = fake_github.add_pull(REPO, "feature", user="alice")
    review = fake_github.add_review(REPO, number, "bob", "APPROVED")
    registry_models.built_from(head)  # iris-classifier 3 was trained on the PR head

    found_image = kube_deploy._image
    dismissed: list[int] = []

    def image_then_dismiss(*args: Any, **kwargs: Any) -> Any:
        image = found_image(*args, **kwargs)
        if not dismissed:  # a maintainer dismisses the approval while the deploy runs
            fake_github.dismiss_review(REPO, number, review)
            dismissed.append(review)
        return image

    monkeypatch.setattr(kube_deploy, "_image", image_then_dismiss)
    payload = comment(fake_github, number, "/deploy iris-classifier 3 --env prod", "alice")
    path = source.path.parent / "event.json"
    path.write_text(json.dumps(payload))
    argv = ["pipeline", "event", "--name", "issue_comment", "--path", str(path)]

    code = main([*argv, "-C", str(source.path), "--json"])
    (item,) = json.loads(capsys.readouterr().out)["commands"]
    assert code == 1 and item["state"] == "aborted", item
    assert "approval was withdrawn" in item["message"]
    assert dismissed  # the deploy got as far as the image, then stopped before its push
    assert origin.git("branch", "--list", "somlier/deploy/*").strip() == ""
    assert fake_github.pulls(DEPLOY) == []
    (reply,) = replies(fake_github, number)
    assert "**aborted**" in reply and "stopped before it was pushed" in reply

    fake_github.add_review(REPO, number, "bob", "APPROVED")
    assert main([*argv, "-C", str(source.path), "--json"]) == 0
    capsys.readouterr()
    (deploy_pr,) = fake_github.pulls(DEPLOY)
    assert deploy_pr.pull is not None
    assert deploy_pr.pull.head_ref == "somlier/deploy/iris-classifier-prod"


def test_registering_another_spelling_of_a_registered_model_is_refused(
    registry_models: Models,
) -> None:
    """``Churn`` would share the deploy folder, branch and allowlist of ``churn``."""
    from pipeline.errors import UserError
    from pipeline.online.register import register
    from pipeline.online.tracking import Tracking

    tracking = Tracking(registry_models.uri, "environment")
    for name in ("Churn", "IRIS_CLASSIFIER", "iris.classifier"):
        with pytest.raises(UserError) as caught:
            register(registry_models.run_id, name, tracking=tracking)
        assert "differs only in case or separators" in caught.value.message
    client = registry_models.client
    assert sorted(m.name for m in client.search_registered_models()) == ["churn", "iris-classifier"]
