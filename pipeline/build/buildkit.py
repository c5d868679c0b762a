"""BuildKit through the ``docker`` CLI: the docker SDK speaks only the engine's classic builder,
and BuildKit needs the CLI's session (a client with ``buildx``, or a client before 23 with
``DOCKER_BUILDKIT=1``). Pushing and tagging stay with the SDK (:mod:`pipeline.build.engine`)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import proc

if TYPE_CHECKING:
    from pipeline.build.engine import BuildJob

# What a docker CLI needs from the environment to reach the engine and the registries.
PASSED_ENV = ("PATH", "HOME", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")
LEGACY_BUILDKIT_BEFORE = 23  # docker 23 made BuildKit need buildx


@dataclass(frozen=True)
class BuildKitCli:
    """A docker CLI that builds with BuildKit, and the environment it runs with."""

    executable: str
    env: Mapping[str, str]
    via: str  # "buildx" or "DOCKER_BUILDKIT=1", for the log

    def build(self, job: BuildJob, emit: Callable[[str], None]) -> str | None:
        """Build ``job`` into the engine's image store; the image id, or None when it failed
        (the log, already emitted, says why)."""
        with tempfile.TemporaryDirectory(prefix="somlier-buildkit-") as scratch:
            context = Path(scratch, "context.tar")
            context.write_bytes(job.context)
            iidfile = Path(scratch, "iid")
            argv = [self.executable, *build_args(job, iidfile), "-"]
            emit(f"building with BuildKit ({self.via})")
            with context.open("rb") as stdin:
                child = proc.spawn(argv, env=self.env, stdin=stdin, merge_stderr=True)
                assert child.stdout is not None
                for raw in child.stdout:
                    emit(raw.decode("utf-8", "replace"))
                code = child.wait()
            if code != 0 or not iidfile.is_file():
                return None
            return iidfile.read_text(encoding="ascii").strip()


def build_args(job: BuildJob, iidfile: Path) -> list[str]:
    """``docker build`` arguments for ``job``, its context read from standard input."""
    args = ["build", "--progress", "plain", "--network", "host", "--iidfile", str(iidfile)]
    args += ["--file", job.dockerfile, "--tag", job.image.ref(job.tags[0])]
    # Inline cache metadata, so the next build can use this image as --cache-from.
    build_args = {"BUILDKIT_INLINE_CACHE": "1", **job.build_args}
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    for key, value in job.labels.items():
        args += ["--label", f"{key}={value}"]
    for ref in job.cache_from:
        args += ["--cache-from", ref]
    return args


def find(
    environ: Mapping[str, str], docker_host: str | None, mode: str = "auto"
) -> BuildKitCli | None:
    """The first ``docker`` on ``PATH`` that can build with BuildKit against ``docker_host``;
    None when ``mode`` is ``off`` or none can."""
    if mode == "off":
        return None
    env = {key: environ[key] for key in PASSED_ENV if key in environ}
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    for executable in _docker_executables(environ.get("PATH", "")):
        via = _buildkit_via(executable, env)
        if via:
            return BuildKitCli(executable, {**env, "DOCKER_BUILDKIT": "1"}, via)
    return None


def _docker_executables(path: str) -> list[str]:
    found: list[str] = []
    for folder in path.split(os.pathsep):
        candidate = Path(folder or ".", "docker")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            resolved = str(candidate.resolve())
            if resolved not in found:
                found.append(resolved)
    return found


def _buildkit_via(executable: str, env: Mapping[str, str]) -> str:
    """``buildx``, ``DOCKER_BUILDKIT=1``, or "" when this client cannot build with BuildKit.
    Client-side only (``docker --version`` does not reach the engine); the engine's API version
    is checked by :class:`pipeline.build.engine.DockerBuilder`, which is connected anyway."""
    version = proc.run(executable, "--version", env=env, check=False)
    match = re.search(r"version (\d+)\.", version.stdout)
    if version.returncode != 0 or match is None:
        return ""
    major = int(match.group(1))
    if 18 <= major < LEGACY_BUILDKIT_BEFORE:
        return "DOCKER_BUILDKIT=1"
    if proc.run(executable, "buildx", "version", env=env, check=False).returncode == 0:
        return "buildx"
    return ""


def engine_supports(api_version: str) -> bool:
    """Whether an engine speaking ``api_version`` builds with BuildKit (Docker 18.09, API 1.39)."""
    return _api_at_least(api_version, (1, 39))


def _api_at_least(api: str, wanted: tuple[int, int]) -> bool:
    parts = api.split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= wanted
    except (IndexError, ValueError):
        return False
