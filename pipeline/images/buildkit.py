"""BuildKit through the ``docker`` CLI: the docker SDK speaks only the engine's classic builder,
and BuildKit needs the CLI's session (a client with ``buildx``, or a client before 23 with
``DOCKER_BUILDKIT=1``). With such a client the build, its tags and the push all go through it
(:meth:`BuildKitCli.build`, :meth:`BuildKitCli.push`), and the docker SDK is never imported.

Which client drives BuildKit is probed once (``docker --version``, ``docker buildx version``)
and remembered in ``buildkit-cli.json`` in somlier's cache folder, per executable, keyed by its
size and mtime and those of the ``buildx`` plugins it could load: a changed client or plugin is
probed again; an unreadable or foreign file is ignored (and replaced)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import proc
from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.images.job import BuildJob

# What a docker CLI needs from the environment to reach the engine and the registries.
PASSED_ENV = ("PATH", "HOME", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")
LEGACY_BUILDKIT_BEFORE = 23  # docker 23 made BuildKit need buildx
CACHE_FILE = "buildkit-cli.json"
_CACHE_FORMAT = "somlier/buildkit-cli/1"
# Where a docker CLI finds its ``buildx`` plugin besides $DOCKER_CONFIG/cli-plugins.
PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
_DEFAULT_SOCKET = "/var/run/docker.sock"
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")

Probe = Callable[[str, Mapping[str, str]], str]


@dataclass(frozen=True)
class BuildKitCli:
    """A docker CLI that builds with BuildKit, and the environment it runs with."""

    executable: str
    env: Mapping[str, str]
    via: str  # "buildx" or "DOCKER_BUILDKIT=1", for the log

    def build(self, job: BuildJob, emit: Callable[[str], None]) -> str | None:
        """Build ``job`` into the engine's image store with every tag of ``job.tags``; the image
        id, or None when it failed (the log, already emitted, says why)."""
        with tempfile.TemporaryDirectory(prefix="somlier-buildkit-") as scratch:
            context = Path(scratch, "context.tar")
            context.write_bytes(job.context)
            iidfile = Path(scratch, "iid")
            secrets = _secret_files(job, Path(scratch))
            argv = [self.executable, *build_args(job, iidfile, secrets), "-"]
            emit(f"building with BuildKit ({self.via})")
            with context.open("rb") as stdin:
                code = self._stream(argv, emit, stdin)
            if code != 0 or not iidfile.is_file():
                return None
            return iidfile.read_text(encoding="ascii").strip()

    def push(self, ref: str, emit: Callable[[str], None]) -> str | None:
        """``docker push ref`` (one tag: never ``--all-tags``, which would push every stale
        local tag of the repository); the pushed manifest's digest ("" when the CLI printed
        none), or None when the push failed (the log, already emitted, says why)."""
        lines: list[str] = []

        def keep(line: str) -> None:
            lines.append(line)
            emit(line)

        if self._stream([self.executable, "push", ref], keep) != 0:
            return None
        # The CLI prints the engine's push result as "TAG: digest: sha256:… size: N".
        found = [m.group(1) for line in lines if (m := _DIGEST.search(line))]
        return found[-1] if found else ""

    def _stream(self, argv: list[str], emit: Callable[[str], None], stdin: Any = None) -> int:
        child = proc.spawn(argv, env=self.env, stdin=stdin, merge_stderr=True)
        assert child.stdout is not None
        for raw in child.stdout:
            emit(raw.decode("utf-8", "replace"))
        return child.wait()

    def engine_api_version(self, docker_host: str | None) -> str:
        """The API version of the engine at ``docker_host`` (the standard socket when None):
        one ``GET /_ping`` on a unix socket, else ``docker version`` of this client (TCP, TLS,
        SSH). A UserError when no engine answers."""
        if docker_host is None or docker_host.startswith("unix://"):
            path = docker_host[len("unix://") :] if docker_host else _DEFAULT_SOCKET
            try:
                return _ping_unix(path)
            except OSError as exc:
                raise _no_engine(docker_host, str(exc)) from None
        done = proc.run(
            self.executable,
            "version",
            "--format",
            "{{.Server.APIVersion}}",
            env={**self.env, "DOCKER_HOST": docker_host},
            check=False,
        )
        if done.returncode != 0 or not done.stdout.strip():
            raise _no_engine(docker_host, done.stderr.strip() or done.stdout.strip())
        return done.stdout.strip()


def _no_engine(docker_host: str | None, detail: str) -> UserError:
    return UserError(
        f"no Docker engine at {docker_host or 'the default socket'}: {detail[:200]}",
        hint="start one, or set DOCKER_HOST (builder.type: cloudbuild builds without one)",
    )


def _ping_unix(path: str, timeout: float = 30) -> str:
    """The engine's ``Api-Version`` from ``GET /_ping`` on the unix socket at ``path``."""
    import http.client

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            self.sock = sock

    connection = UnixConnection("localhost", timeout=timeout)
    try:
        connection.request("GET", "/_ping")
        answer = connection.getresponse()
        answer.read()
    except http.client.HTTPException as exc:
        raise OSError(f"{path}: {type(exc).__name__}") from None
    finally:
        connection.close()
    if answer.status != 200:
        raise OSError(f"{path}: /_ping answered {answer.status}")
    return answer.getheader("Api-Version") or ""


def _secret_files(job: BuildJob, scratch: Path) -> dict[str, Path]:
    """Each of ``job``'s secrets in a file only this user reads (``--secret src=``: a value
    never goes on a command line, and every docker client since 18.09 reads files)."""
    files: dict[str, Path] = {}
    for s in job.secrets:
        if s.value is None:
            raise UserError(f"the build secret {s.id} has no value here")
        path = scratch / f"secret-{len(files)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(s.value.reveal())
        files[s.id] = path
    return files


def build_args(
    job: BuildJob, iidfile: Path, secret_files: Mapping[str, Path] | None = None
) -> list[str]:
    """``docker build`` arguments for ``job``, its context read from standard input;
    ``secret_files``: the file holding each secret id's value."""
    args = ["build", "--progress", "plain", "--network", "host", "--iidfile", str(iidfile)]
    args += ["--file", job.dockerfile]
    for secret_id, path in (secret_files or {}).items():
        args += ["--secret", f"id={secret_id},src={path}"]
    for tag in job.tags:
        args += ["--tag", job.image.ref(tag)]
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
    environ: Mapping[str, str],
    docker_host: str | None,
    mode: str = "auto",
    *,
    cache: Path | None = None,
    probe: Probe | None = None,
) -> BuildKitCli | None:
    """The first ``docker`` on ``PATH`` that can build with BuildKit against ``docker_host``;
    None when ``mode`` is ``off`` or none can. ``cache``: the folder of the probes' cache file
    (None: probe every client); ``probe``: asks one client (default: run it)."""
    if mode == "off":
        return None
    env = {key: environ[key] for key in PASSED_ENV if key in environ}
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    ask = probe or _buildkit_via
    known = _read_cache(cache / CACHE_FILE) if cache is not None else {}
    learned: dict[str, dict[str, Any]] = {}
    found = None
    for executable in _docker_executables(environ.get("PATH", "")):
        fingerprint = _fingerprint(executable, environ)
        entry = known.get(executable)
        if entry is not None and entry.get("fingerprint") == fingerprint:
            via = str(entry.get("via", ""))
        else:
            via = ask(executable, env)
            learned[executable] = {"fingerprint": fingerprint, "via": via}
        if via:
            found = BuildKitCli(executable, {**env, "DOCKER_BUILDKIT": "1"}, via)
            break
    if cache is not None and learned:
        _write_cache(cache / CACHE_FILE, {**known, **learned})
    return found


def _fingerprint(executable: str, environ: Mapping[str, str]) -> list[Any]:
    """What a probe's answer depends on: the client's file and the ``buildx`` plugins it may
    load (size and mtime of each; absent ones as None)."""
    config = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME") or "~") / ".docker")
    plugins = [str(Path(config).expanduser() / "cli-plugins"), *PLUGIN_DIRS]
    return [_stat(executable), *(_stat(str(Path(d, "docker-buildx"))) for d in plugins)]


def _stat(path: str) -> list[Any] | None:
    try:
        found = Path(path).stat()
    except OSError:
        return None
    return [path, found.st_size, found.st_mtime_ns]


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The cached probes, or nothing when the file is missing, unreadable or not ours."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
        return {}
    clients = data.get("clients")
    if not isinstance(clients, dict):
        return {}
    return {k: v for k, v in clients.items() if isinstance(k, str) and isinstance(v, dict)}


def _write_cache(path: Path, clients: Mapping[str, Any]) -> None:
    """Replace the cache file atomically; a folder that cannot be written only costs time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": _CACHE_FORMAT, "clients": clients}, handle, indent=1)
        Path(scratch).replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            Path(scratch).unlink()


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
    is checked by :class:`pipeline.images.engine.DockerBuilder`."""
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
