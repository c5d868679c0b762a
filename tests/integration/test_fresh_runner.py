"""A code-only change built on a fresh CI runner: the engine starts empty (no image, no build
cache), the registry keeps what the last build pushed. `somlier pipeline build` takes the
previous image's inline cache from the registry, so the requirements install is not run again
and the pushed image shares every layer but the code's with the previous one (on a pull request,
the previous push of the same PR); a project whose sources did not change is not built at all
(its image is retagged registry-side).

The "runner" is an engine of this module's own (`.ci/services.sh start` with a state folder of
its own, stopped at the end): wiping the shared test engine would take the other tests' caches.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import pipeline
from tests.helpers.git import GIT_ENV
from tests.integration.services import SCRIPT, docker

pytestmark = pytest.mark.integration

SOMLIER = Path(sys.executable).parent / "somlier"
PROJECT = "projects/churn"
ANSWERS = ("--description", "d", "--team", "t", "--author", "a", "--email", "a@example.org")


@pytest.fixture(scope="module")
def fresh_engine() -> Iterator[str]:
    """DOCKER_HOST of an engine that starts empty (and is this module's alone)."""
    state = Path(tempfile.mkdtemp(prefix="sfr-", dir="/tmp"))  # short: a socket path
    env = {**os.environ, "SOMLIER_SERVICES_DIR": str(state)}
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=300
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"unix://{state}/docker.sock"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(state, ignore_errors=True)


def wipe(docker_host: str) -> None:
    """What a hosted runner starts with: no image, no build cache."""
    ids = docker("images", "-aq", docker_host=docker_host).stdout.split()
    if ids:
        docker("image", "rm", "-f", *sorted(set(ids)), docker_host=docker_host)
    docker("builder", "prune", "-af", docker_host=docker_host)
    assert not docker("images", "-aq", docker_host=docker_host).stdout.strip()


def run(*argv: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done


def commit(mono: Path, message: str) -> None:
    env = {**os.environ, **GIT_ENV}
    run("git", "add", "-A", cwd=mono, env=env)
    run("git", "commit", "-qm", message, cwd=mono, env=env)


def layers(registry: str, image: str, tag: str) -> list[str]:
    """The layer digests of ``image:tag``'s manifest in the registry."""
    repository = image.split("/", 1)[1]
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return [layer["digest"] for layer in json.loads(response.read())["layers"]]


def install_step_cached(log: str) -> bool:
    """Whether the BuildKit log shows the template's requirements install taken from a cache."""
    steps = re.findall(r"#(\d+) \[[^\]]*\] RUN .*pip install -r", log)
    assert steps, log
    return all(re.search(rf"#{n} CACHED\b", log) for n in steps)


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    """A monorepo with one project from the template; its requirements: none of its own (the
    install step installs somlier and its dependencies)."""
    env = {**os.environ, **GIT_ENV}
    run(SOMLIER, "new-monorepo", "mono", cwd=tmp_path, env=env)
    mono = tmp_path / "mono"
    new = ("new-project", "--no-input", "--project-name", "churn", *ANSWERS, "-o", "projects")
    run(SOMLIER, *new, cwd=mono, env=env)
    (mono / PROJECT / "requirements.txt").write_text(f"# {uuid.uuid4().hex}\n")
    commit(mono, "churn")
    return mono


def test_a_code_only_change_on_an_empty_engine_reuses_the_requirements_layer(
    mono: Path, fresh_engine: str, registry: str, docker_host: str, base_image: str, wheelhouse: str
) -> None:
    # The base image comes from the registry, as on a runner.
    base = f"{registry}/somlier-test/python:3.11-bookworm"
    docker("tag", base_image, base, docker_host=docker_host)
    docker("push", base, docker_host=docker_host)
    env = {
        **os.environ,
        **GIT_ENV,
        "DOCKER_HOST": fresh_engine,
        "SOMLIER__REGISTRY__URL": f"{registry}/fresh{uuid.uuid4().hex[:8]}",
        "SOMLIER__REGISTRY__INSECURE": "true",
        "SOMLIER__BUILDER__BASE_IMAGE": base,
        "SOMLIER__PACKAGES__SOMLIER": "index",  # the wheelhouse has this checkout's wheel
        "SOMLIER__PACKAGES__INDEX_URL": f"{wheelhouse}/no-index/",
        "SOMLIER__PACKAGES__FIND_LINKS": json.dumps([f"{wheelhouse}/"]),
    }
    build = (SOMLIER, "pipeline", "build", "--main", "--no-dags", "--project", PROJECT, "--json")

    first = run(*build, cwd=mono, env=env)
    [v1] = json.loads(first.stdout)["images"]
    assert not v1["cache_hit"] and not install_step_cached(first.stderr)

    wipe(fresh_engine)  # the next runner
    main_py = mono / PROJECT / "main.py"
    main_py.write_text(main_py.read_text() + "# a code-only change\n")
    commit(mono, "code only")
    second = run(*build, cwd=mono, env=env)
    [v2] = json.loads(second.stdout)["images"]
    assert not v2["cache_hit"] and v2["tags"][0] != v1["tags"][0]
    assert f"importing cache manifest from {v1['image']}:latest" in second.stderr
    assert install_step_cached(second.stderr), second.stderr
    # The registry's image: every layer of the previous one (base, venv, requirements), then
    # the new code.
    before = layers(registry, v1["image"], v1["tags"][0])
    after = layers(registry, v2["image"], v2["tags"][0])
    assert after[:-1] == before[:-1] and after[-1] != before[-1]
    # ...and it runs the changed code with the installed somlier.
    ran = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "somlier", v2["pinned"], "--version",
        docker_host=fresh_engine,
    )  # fmt: skip
    assert pipeline.__version__ in ran.stdout

    wipe(fresh_engine)  # and the next: nothing changed, nothing is built
    third = run(*build, cwd=mono, env=env)
    [v3] = json.loads(third.stdout)["images"]
    assert v3["cache_hit"] and v3["digest"] == v2["digest"]
    assert "building" not in third.stderr
    assert not docker("images", "-aq", docker_host=fresh_engine).stdout.strip()

    # A pull request changes the requirements (latest has the old ones), then only the code:
    # the second push takes its cache from the PR's own last push.
    pr = (*build[:3], "--pr", "5", *build[5:])
    (mono / PROJECT / "requirements.txt").write_text(f"# {uuid.uuid4().hex}\n")
    commit(mono, "requirements")
    wipe(fresh_engine)
    fourth = run(*pr, cwd=mono, env=env)
    assert not install_step_cached(fourth.stderr)
    main_py.write_text(main_py.read_text() + "# another code-only change\n")
    commit(mono, "code only, in the PR")
    wipe(fresh_engine)
    fifth = run(*pr, cwd=mono, env=env)
    [v5] = json.loads(fifth.stdout)["images"]
    assert not v5["cache_hit"] and "pr-5" in v5["tags"] and "latest" not in v5["tags"]
    assert f"importing cache manifest from {v1['image']}:pr-5" in fifth.stderr
    assert install_step_cached(fifth.stderr), fifth.stderr
