"""A real Docker engine and a real OCI registry for the integration tests, as pytest fixtures.

The services themselves are run by ``.ci/services.sh`` (Debian's ``dockerd`` with no bridge and no
iptables, and ``docker-registry`` on 127.0.0.1). ``.ci/run`` starts them before ``make test``;
when nothing started them (``make test`` or ``pytest`` by hand), the first fixture that needs them
runs ``.ci/services.sh install`` and ``start``, and this test run stops at its end exactly what it
started. Services found already running are used and left running.

Fixtures (all session-scoped):

``docker_host``    ``unix:///…/docker.sock``: the engine's address, for ``DOCKER_HOST``
``registry``       ``127.0.0.1:PORT``: an empty-at-start registry, plain HTTP on loopback
``docker_env``     ``os.environ`` plus ``DOCKER_HOST``, for child processes
``busybox_image``  ``somlier-test/busybox:latest``: ``FROM scratch`` + busybox-static (2 MB)
``base_image``     ``somlier-test/python:3.11-bookworm``: a debootstrap minbase root with
                   python3, venv and pip, imported once per engine; the root's tarball is built
                   once and cached in ``$SOMLIER_CACHE`` (default ``~/.cache/somlier-test``)

There is no Docker Hub here and no bridge network: build with ``--network host`` and start
containers with ``--network host`` or ``none`` (the engine's default is ``none``).

If the engine cannot run, the fixtures fail (they never skip) and say why.

Test modules import helpers from here (``docker``, ``manifest_digest``) and may do so before
pytest loads it as a plugin, so it opts out of assertion rewriting (it has no asserts):
PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "BASE_IMAGE",
    "BUSYBOX_IMAGE",
    "MANIFEST_ACCEPT",
    "Services",
    "ServicesError",
    "base_image",
    "busybox_image",
    "docker",
    "docker_cli",
    "docker_env",
    "docker_host",
    "ensure_services",
    "manifest_digest",
    "registry",
    "release_services",
    "services",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / ".ci" / "services.sh"
BUSYBOX_IMAGE = "somlier-test/busybox:latest"
BASE_IMAGE = "somlier-test/python:3.11-bookworm"

# What a registry may answer for a manifest: OCI and Docker v2, single images and indexes.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)

# Who stops what a test run started: the run that starts the services writes its token to
# $D/owner, and every process using them holds a shared lock on $D/users.lock. At its end a process
# of the owning run stops them only if it can take that lock exclusively, i.e. when it is the last
# user: the last pytest-xdist worker to finish, never while a nested or concurrent run still uses
# them. Services started by someone else (.ci/run, by hand) have no owner of ours and keep running.
_RUN_TOKEN_VAR = "SOMLIER_SERVICES_RUN"


class ServicesError(RuntimeError):
    """The Docker engine or the registry could not be started or used."""


@dataclass(frozen=True)
class Services:
    docker_host: str
    registry: str
    state_dir: Path
    started_here: bool


def state_dir() -> Path:
    return Path(os.environ.get("SOMLIER_SERVICES_DIR", "/tmp/somlier-services"))


def docker_cli() -> str:
    """Debian's client, which matches Debian's engine; else whatever ``docker`` is on PATH."""
    if Path("/usr/bin/docker").is_file():
        return "/usr/bin/docker"
    found = shutil.which("docker")
    if found is None:
        raise ServicesError("no docker client: run .ci/services.sh install")
    return found


def _script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    return env


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _failure(what: str, proc: subprocess.CompletedProcess[str]) -> ServicesError:
    d = state_dir()
    return ServicesError(
        f"{what} failed (exit {proc.returncode}).\n"
        f"--- output ---\n{(proc.stdout + proc.stderr).strip()}\n"
        f"--- {d / 'dockerd.log'} (tail) ---\n{_tail(d / 'dockerd.log')}\n"
        f"--- {d / 'registry.log'} (tail) ---\n{_tail(d / 'registry.log')}"
    )


_services: Services | None = None
_users_lock: int | None = None


def _run_token() -> str:
    # xdist gives all workers of one run the same id; otherwise one token per outermost process.
    xdist_run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if xdist_run:
        return "xdist-" + xdist_run
    return os.environ.setdefault(_RUN_TOKEN_VAR, uuid.uuid4().hex)


def ensure_services() -> Services:
    """Use the running services, or install and start them (once per process)."""
    global _services, _users_lock
    if _services is not None:
        return _services
    d = state_dir()
    d.mkdir(parents=True, exist_ok=True)
    if _users_lock is None:
        # Blocks only while another process stops the services; then we start them again.
        fd = os.open(d / "users.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        _users_lock = fd
    started_here = False
    if _script("status").returncode != 0:
        if os.geteuid() != 0:
            raise ServicesError(
                "the Docker engine is not running and only root can start it: "
                "run `sudo .ci/services.sh install && sudo .ci/services.sh start` first"
            )
        proc = _script("install", timeout=900)
        if proc.returncode != 0:
            raise _failure(".ci/services.sh install", proc)
        proc = _script("start", timeout=300)
        if proc.returncode != 0:
            raise _failure(".ci/services.sh start", proc)
        started_here = "already running" not in proc.stderr
        if started_here:
            (d / "owner").write_text(_run_token())
    env_file = d / "env"
    if not env_file.is_file():
        raise ServicesError(f"{env_file} is missing although the services answered")
    env = _read_env(env_file)
    try:
        _services = Services(
            docker_host=env["DOCKER_HOST"],
            registry=env["SOMLIER_TEST_REGISTRY"],
            state_dir=d,
            started_here=started_here,
        )
    except KeyError as e:
        raise ServicesError(f"{env_file} has no {e.args[0]}") from None
    return _services


def release_services() -> None:
    """This process is done with the services: stop them if this run started them and no other
    process uses them any more."""
    global _services, _users_lock
    fd, _users_lock, _services = _users_lock, None, None
    if fd is None:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process still uses them; the last one stops them
        owner = state_dir() / "owner"
        try:
            ours = owner.read_text() == _run_token()
        except OSError:
            ours = False
        if ours:
            proc = _script("stop", timeout=120)
            owner.unlink(missing_ok=True)
            if proc.returncode != 0:
                raise _failure(".ci/services.sh stop", proc)
    finally:
        os.close(fd)


def docker(
    *args: str,
    docker_host: str,
    check: bool = True,
    timeout: float = 600,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the docker client against ``docker_host``; on failure, raise with its output.
    ``docker build`` uses BuildKit (Debian's 20.10 client defaults to the classic builder, which
    refuses the template Dockerfile's ``RUN --mount``), as ``somlier pipeline build`` does."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"} if args[:1] == ("build",) else None
    proc = subprocess.run(
        [docker_cli(), "-H", docker_host, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
        env=env,
    )
    if check and proc.returncode != 0:
        raise ServicesError(
            f"docker {' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr).strip()}"
        )
    return proc


def manifest_digest(
    registry: str, repository: str, reference: str, accept: str = MANIFEST_ACCEPT
) -> str:
    """``GET /v2/<repository>/manifests/<reference>``: the manifest's digest, checked against
    the bytes served (``sha256:…``)."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{reference}",
        headers={"Accept": accept},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            header = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        raise ServicesError(
            f"GET {request.full_url}: {e.code} {e.read().decode(errors='replace')}"
        ) from None
    computed = "sha256:" + hashlib.sha256(body).hexdigest()
    if header and header != computed:
        raise ServicesError(f"registry says {header} but served bytes hash to {computed}")
    declared = json.loads(body).get("mediaType", media_type)
    if declared not in MANIFEST_ACCEPT:
        raise ServicesError(f"unexpected manifest media type {declared!r}")
    return computed


def _fail(e: BaseException) -> None:
    pytest.fail(f"test services unavailable: {e}", pytrace=False)


@pytest.fixture(scope="session")
def services(request: pytest.FixtureRequest) -> Services:
    request.addfinalizer(release_services)
    try:
        return ensure_services()
    except (ServicesError, OSError, subprocess.TimeoutExpired) as e:
        _fail(e)
        raise  # unreachable: pytest.fail raises


@pytest.fixture(scope="session")
def docker_host(services: Services) -> str:
    return services.docker_host


@pytest.fixture(scope="session")
def registry(services: Services) -> str:
    return services.registry


@pytest.fixture(scope="session")
def docker_env(docker_host: str) -> Mapping[str, str]:
    return {**os.environ, "DOCKER_HOST": docker_host}


def _image(command: str, timeout: float) -> str:
    proc = _script(command, timeout=timeout)
    if proc.returncode != 0:
        raise _failure(f".ci/services.sh {command}", proc)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def busybox_image(services: Services) -> str:
    try:
        return _image("busybox-image", timeout=300)
    except (ServicesError, OSError, subprocess.TimeoutExpired) as e:
        _fail(e)
        raise


@pytest.fixture(scope="session")
def base_image(services: Services) -> str:
    # The first build on a machine runs debootstrap (minutes); later ones only `docker import`.
    try:
        return _image("base-image", timeout=1800)
    except (ServicesError, OSError, subprocess.TimeoutExpired) as e:
        _fail(e)
        raise
