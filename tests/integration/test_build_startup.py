"""``somlier pipeline build`` with BuildKit, in a fresh process against the real engine and
registry: it builds and pushes without importing the docker SDK, the retry library, the forge
or Slack (none is needed: no token is set, nothing fails), and it remembers which docker CLI
drives BuildKit in the user's cache folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from pipeline.images import buildkit
from tests.integration.services import manifest_digest

pytestmark = pytest.mark.integration

NOT_NEEDED = ("docker", "tenacity", "github", "slack_sdk", "requests")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
DOCKERFILE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\nCOPY ${PROJECT_DIR}/ /app/\n"
RUN = textwrap.dedent("""
    import json, sys
    from pipeline.cli.main import main
    code = main(sys.argv[1:])
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
    print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
""")


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    root = tmp_path / "ml-projects"
    folder = root / "projects" / "alpha"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "requirements.txt").write_text("")
    (folder / "main.txt").write_text(f"alpha {uuid.uuid4().hex}\n")
    (folder / "somlier.yaml").write_text(
        "project: {name: alpha}\nmodel: {name: alpha, version: v1.0.0}\n"
        "entrypoints: {main: {command: python}}\n"
    )
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "alpha")
    return root


def build(root: Path, env: dict[str, str]) -> tuple[dict[str, Any], list[str], str]:
    """(the --json report, the modules of NOT_NEEDED loaded, stderr) of one fresh process."""
    argv = ["pipeline", "build", "-C", str(root), "--project", "projects/alpha", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", RUN, *argv],
        input=json.dumps(NOT_NEEDED),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    status = json.loads(done.stderr.strip().splitlines()[-1])
    assert status["code"] == 0, done.stdout + done.stderr
    return json.loads(done.stdout), status["loaded"], done.stderr


def test_a_buildkit_build_loads_no_sdk_and_caches_the_cli_probe(
    monorepo: Path, tmp_path: Path, docker_host: str, registry: str, busybox_image: str
) -> None:
    cache = tmp_path / "xdg-cache"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SOMLIER", "GITHUB_", "SLACK_", "DOCKER_"))
    }
    env.update(
        {
            "PATH": f"/usr/bin:/bin:{Path(sys.executable).parent}",
            "XDG_CACHE_HOME": str(cache),
            "DOCKER_HOST": docker_host,
            "SOMLIER__REGISTRY__URL": f"{registry}/start{uuid.uuid4().hex[:8]}",
            "SOMLIER__BUILDER__BASE_IMAGE": busybox_image,
            "SOMLIER__BUILDER__BUILDKIT": "on",
        }
    )
    report, loaded, log = build(monorepo, env)
    [image] = report["images"]
    assert not image["cache_hit"] and image["pinned"]
    for tag in image["tags"]:
        assert manifest_digest(registry, image["image"].split("/", 1)[1], tag) == image["digest"]
    assert loaded == []
    assert "BuildKit: /usr/bin/docker (DOCKER_BUILDKIT=1)" in log

    probes = json.loads((cache / "somlier" / buildkit.CACHE_FILE).read_text())
    assert probes["clients"]["/usr/bin/docker"]["via"] == "DOCKER_BUILDKIT=1"

    # A second run with nothing changed: a cache hit, from the same remembered client.
    again, loaded, log = build(monorepo, env)
    assert again["images"][0]["cache_hit"]
    assert again["images"][0]["digest"] == image["digest"]
    assert loaded == [] and "BuildKit: /usr/bin/docker (DOCKER_BUILDKIT=1)" in log
