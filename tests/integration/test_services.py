"""The test services themselves: a real engine builds, a real registry stores and serves back."""

from __future__ import annotations

import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.integration.services import docker, manifest_digest

pytestmark = pytest.mark.integration


def test_services_listen_on_loopback_only(docker_host: str, registry: str) -> None:
    assert docker_host.startswith("unix://")
    host, _, port = registry.rpartition(":")
    assert host == "127.0.0.1" and port.isdigit()


def test_build_push_and_read_back_the_digest(
    docker_host: str, registry: str, busybox_image: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo built-by-test > /built.txt\n"
    )
    repository = "somlier-test/hello"
    tag = f"t-{uuid.uuid4().hex[:12]}"
    image = f"{registry}/{repository}:{tag}"

    docker("build", "--network", "host", "-q", "-t", image, str(tmp_path), docker_host=docker_host)
    run = docker("run", "--rm", image, "cat", "/built.txt", docker_host=docker_host)
    assert run.stdout.strip() == "built-by-test"

    push = docker("push", image, docker_host=docker_host)
    pushed = [w for w in push.stdout.split() if w.startswith("sha256:")]
    assert pushed, push.stdout

    served = manifest_digest(registry, repository, tag)
    assert served == pushed[-1]
    repo_digests = docker(
        "image", "inspect", "--format", "{{json .RepoDigests}}", image, docker_host=docker_host
    )
    assert f"{registry}/{repository}@{served}" in json.loads(repo_digests.stdout)
    # The same manifest by digest, and the tag in the registry's tag list.
    assert manifest_digest(registry, repository, served) == served
    with urllib.request.urlopen(f"http://{registry}/v2/{repository}/tags/list", timeout=10) as r:
        assert tag in json.load(r)["tags"]


def test_python_base_image_runs_python(docker_host: str, base_image: str) -> None:
    run = docker("run", "--rm", base_image, "python3", "-c", "print(1)", docker_host=docker_host)
    assert run.stdout == "1\n"


def test_python_base_image_makes_a_venv_in_a_build(
    docker_host: str, base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN python3 -m venv /opt/venv && /opt/venv/bin/pip --version\n"
    )
    tag = f"somlier-test/venv:{uuid.uuid4().hex[:12]}"
    docker("build", "--network", "host", "-q", "-t", tag, str(tmp_path), docker_host=docker_host)
    try:
        run = docker(
            "run",
            "--rm",
            tag,
            "/opt/venv/bin/python",
            "-c",
            "import sys; print(sys.prefix, sys.version_info[:2])",
            docker_host=docker_host,
        )
        assert run.stdout.strip() == "/opt/venv (3, 11)"
    finally:
        docker("rmi", "-f", tag, docker_host=docker_host, check=False)
