"""A pull request's somlier.yaml tries to read the runner's secrets through ``${VAR}``, through the
real CLI: the secrets are in the environment, and they appear in no output, no error, no JSON and
no rendered DAG. Allowed variables still work, and their values are not expanded again."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import GitRepo

pytestmark = pytest.mark.integration

SOMLIER = Path(sys.executable).parent / "somlier"

SECRETS = {
    "GITHUB_TOKEN": "ghp_TOKENVALUE0000000000000000000000000",
    "SOMLIER_WEBHOOK_SECRET": "webhook-secret-value-1111",
    "SOMLIER_API_TOKEN": "api-token-value-2222",
    "SOMLIER_REGISTRY_TOKEN": "registry-token-value-3333",
    "SLACK_BOT_TOKEN": "xoxb-slack-value-4444",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-password-value-5555",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value-6666",
    "CI_BOT": "ci-bot-token-value-7777",  # the platform's github.token_env below
}

# A platform that (by mistake) lists secrets in its allowlist: they are refused all the same.
PLATFORM = """\
github: {token_env: CI_BOT}
interpolation:
  allow: [EPOCHS, INNOCENT, SCHEDULE, GITHUB_TOKEN, CI_BOT, SOMLIER_WEBHOOK_SECRET]
"""

CLEAN = """\
project: {name: clean}
model: {name: clean, version: v1.0.0}
entrypoints:
  main: {command: python, args: [main.py, --epochs, "${EPOCHS:3}", "${INNOCENT}"]}
offline:
  - {dag_id: clean_daily, schedule: "0 9 * * *", entrypoint: main, description: "${EPOCHS}"}
"""

LEAKY = """\
project:
  name: leaky
  docker: {tags: ["${GITHUB_TOKEN}", "${github__token:latest}"]}
model:
  name: leaky
  version: "${SOMLIER_WEBHOOK_SECRET}"
  tags: ["${EPOCHS:${SOMLIER_API_TOKEN}}", "${ ci_bot }", "${Ci_Bot}"]
entrypoints:
  main:
    command: python
    args: [main.py, "${MLFLOW_TRACKING_PASSWORD}", "${AWS_SECRET_ACCESS_KEY:x}"]
offline:
  - dag_id: leaky_daily
    schedule: "0 9 * * *"
    entrypoint: main
    description: "${GITHUB_TOKEN}"
    tags: ["${SOMLIER_REGISTRY_TOKEN}", "${SLACK_BOT_TOKEN:x}", "$${GITHUB_TOKEN}"]
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SOMLIER__")}
    return subprocess.run(
        [str(SOMLIER), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={
            **environ,
            **SECRETS,
            "EPOCHS": "7",
            "INNOCENT": "${GITHUB_TOKEN}",
            "SCHEDULE": "at-teatime-private-value",
        },
        timeout=120,
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for name, value in SECRETS.items():
            assert value not in text, f"the value of {name} leaked:\n{text}"


def files_under(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def monorepo(git_repo: GitRepo) -> Path:
    git_repo.commit(
        "platform and a clean project",
        {
            ".somlier/platform.yaml": PLATFORM,
            "projects/clean/somlier.yaml": CLEAN,
            "projects/clean/requirements.txt": "",
        },
    )
    git_repo.git("checkout", "-q", "-b", "pr")
    git_repo.commit(
        "a pull request",
        {"projects/leaky/somlier.yaml": LEAKY, "projects/leaky/requirements.txt": ""},
    )
    return git_repo.path


def test_validate_errors_text_json_and_annotations_hold_no_secret(monorepo: Path) -> None:
    leaky = "projects/leaky/somlier.yaml"
    text = run("validate", cwd=monorepo)
    as_json = run("validate", "--json", cwd=monorepo)
    github = run("validate", "--format", "github", leaky, cwd=monorepo)
    for done in (text, as_json, github):
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert_no_secret(done.stdout, done.stderr)
    lines = text.stdout.splitlines()
    assert len(lines) == 11, text.stdout
    assert all(line.startswith(f"{leaky}:") for line in lines)
    assert f"{leaky}:6:13: error: ${{SOMLIER_WEBHOOK_SECRET}} may not be read" in text.stdout
    assert f"{leaky}:16:19: error: ${{GITHUB_TOKEN}} may not be read" in text.stdout
    assert (
        f"{leaky}:7:60: error: ${{Ci_Bot}} may not be read from a somlier.yaml: it is the "
        "secret that github.token_env names" in text.stdout
    )
    report = json.loads(as_json.stdout)
    errors = {f["path"]: f["errors"] for f in report["files"]}
    assert errors["projects/clean/somlier.yaml"] == []
    assert len(errors[leaky]) == 11


def test_config_show_and_render_refuse_the_file_and_write_nothing(monorepo: Path) -> None:
    leaky = monorepo / "projects" / "leaky"
    show = run("config", "show", "--json", cwd=leaky)
    render = run(
        "offline", "render", "-p", "projects/leaky", "--output-dir", "dags", "--json", cwd=monorepo
    )
    changed = run("pipeline", "changed", "--base", "main", "--json", cwd=monorepo)
    for done in (show, render, changed):
        assert done.returncode == 2, (done.args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert_no_secret(done.stdout, done.stderr)
    assert "may not be read from a somlier.yaml" in render.stderr
    assert files_under(monorepo / "dags") == {}


def test_allowed_variables_reach_the_dag_and_are_not_expanded_again(monorepo: Path) -> None:
    shown = run("config", "show", "--json", cwd=monorepo / "projects" / "clean")
    assert shown.returncode == 0, shown.stderr
    args = json.loads(shown.stdout)["entrypoints"]["main"]["args"]
    assert args == ["main.py", "--epochs", "7", "${GITHUB_TOKEN}"]
    done = run("offline", "render", "-p", "projects/clean", "--output-dir", "dags", cwd=monorepo)
    assert done.returncode == 0, done.stderr
    written = files_under(monorepo / "dags")
    assert list(written) == ["clean/clean_daily.py"]
    assert_no_secret(done.stdout, done.stderr, *written.values())
    tree = ast.parse(written["clean/clean_daily.py"])
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert "7" in strings  # the description, from the allowed EPOCHS


def test_a_render_error_about_an_allowed_value_shows_the_variable(
    monorepo: Path, git_repo: GitRepo
) -> None:
    """Render checks the schedule (validate leaves cron to it): its error names ${SCHEDULE}."""
    text = CLEAN.replace("clean", "cron").replace('"0 9 * * *"', '"${SCHEDULE}"')
    git_repo.commit(
        "cron", {"projects/cron/somlier.yaml": text, "projects/cron/requirements.txt": ""}
    )
    done = run("offline", "render", "-p", "projects/cron", "--output-dir", "dags", cwd=monorepo)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "at-teatime-private-value" not in done.stdout + done.stderr
    assert "${SCHEDULE}" in done.stderr
    assert done.stderr.startswith("projects/cron/somlier.yaml:6:")
    assert files_under(monorepo / "dags") == {}
