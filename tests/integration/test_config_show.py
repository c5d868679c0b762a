"""``somlier config show`` through the real CLI: values printed as a person writes them, and
``-d`` never prints a line of a file outside the project folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SOMLIER = Path(sys.executable).parent / "somlier"
SECRET_LINE = "top-secret-dependency==6.6.6"
PROJECT = """\
project:
  name: demand-forecast
  docker: {name: demand-forecast, tags: [latest, v1]}
model:
  name: demand-forecast
  version: v1.0.0
  tags: [dev, prod]
  assets:
    - {provider: http, files: {weights: {remote_uri: "https://x/w", local_path: w.bin}}}
entrypoints: {main: {command: python, args: [main.py]}, test: {command: python}}
"""


def show(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SOMLIER), "config", "show", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SOMLIER__")},
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "outside.txt").write_text(SECRET_LINE + "\n")
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "somlier.yaml").write_text(PROJECT)
    return folder


def test_lists_are_printed_as_written(project: Path) -> None:
    (project / "requirements.txt").write_text("numpy\n")
    done = show(project)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Model Tag: dev, prod" in lines
    assert "Docker Image Name: demand-forecast:latest, demand-forecast:v1" in lines
    assert "Model Assets: http: weights" in lines
    assert "Entrypoints: main, test" in lines
    assert "[" not in "\n".join(lines[1:])  # no Python list reprs


@pytest.mark.parametrize(
    "requirements",
    ["link", "-r ../outside.txt", "-r {outside}", "--requirement={outside}", "-c ../outside.txt"],
)
def test_dependencies_outside_the_project_are_refused(project: Path, requirements: str) -> None:
    outside = project.parent / "outside.txt"
    if requirements == "link":
        (project / "requirements.txt").symlink_to(outside)
    else:
        text = "numpy\n" + requirements.format(outside=outside) + "\n"
        (project / "requirements.txt").write_text(text)
    done = show(project, "-d")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert SECRET_LINE not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "outside the project folder" in done.stderr
    assert done.stderr.startswith(str(project / "requirements.txt")) or "somlier.yaml" in (
        done.stderr
    )
