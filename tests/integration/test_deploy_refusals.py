"""The CLI refuses at once what cannot be deployed or read: an unknown model or version (the real
MLflow registry the deployment would read), and an event file nested too deeply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.models import RegisteredModel

pytestmark = pytest.mark.integration

SOMLIER = [sys.executable, "-m", "pipeline"]


def somlier(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SOMLIER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("flags", [["--use_k8s", "--dry-run"], ["--use_k8s"], ["--dry-run"]])
def test_an_unknown_model_exits_2_with_close_names_and_no_plan(
    registered_model: RegisteredModel, tmp_path: Path, flags: list[str]
) -> None:
    done = somlier(
        "online", "deploy", "iris-clasifier", "1", *flags, cwd=tmp_path, env=registered_model.env()
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # no plan
    error, hint = done.stderr.splitlines()[-2:]
    assert error.startswith("error: no model named 'iris-clasifier' is registered in sqlite:///")
    assert error.endswith(f"; close names: {registered_model.model_name}")
    assert hint == "hint: register one with `somlier online register RUN_ID MODEL_NAME`"
    assert "Traceback" not in done.stderr


def test_an_unknown_version_exits_2_with_the_registered_versions(
    registered_model: RegisteredModel, tmp_path: Path
) -> None:
    done = somlier(
        "online", "deploy", registered_model.model_name, "9", "--use_k8s", "--dry-run",
        cwd=tmp_path, env=registered_model.env(),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines()[-2:] == [
        f"error: no version 9 of model '{registered_model.model_name}' in the registry at "
        f"{registered_model.tracking_uri}",
        "hint: registered versions: 1",
    ]


def test_a_registered_version_still_gets_its_plan(
    registered_model: RegisteredModel, tmp_path: Path, registry: str
) -> None:
    env = {**registered_model.env(), "SOMLIER__REGISTRY__URL": f"{registry}/refusals"}
    done = somlier(
        "online", "deploy", registered_model.model_name, "1", "--use_k8s", "--dry-run", "--json",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"dry_run": true' in done.stdout


def test_a_deeply_nested_event_file_exits_2(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"action": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    for name in ("pull_request", "issue_comment", "push"):
        done = somlier(
            "pipeline", "event", "--name", name, "--path", str(event), "--dry-run",
            cwd=tmp_path, env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        )  # fmt: skip
        assert done.returncode == 2, (name, done.stderr)
        assert f"{event}: not a GitHub event payload: its JSON is nested too deeply" in (
            done.stderr
        )
        assert "Traceback" not in done.stderr
