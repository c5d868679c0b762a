"""Serve a staged bundle with ``bentoml serve`` on this machine, as a child process.

:class:`LocalServer` starts the child (its output goes to a log file, and to ``echo`` when
given), waits until BentoML's ``/readyz`` answers, and stops the child and every worker it
started. A child that dies or never becomes ready is reported with the tail of its log.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Literal

from pipeline import proc
from pipeline.errors import StepFailed, UserError
from pipeline.online.bento import Bundle

if TYPE_CHECKING:
    from pipeline.online.model_ref import ResolvedModel

HOST = "127.0.0.1"
DEFAULT_PORT = 3000  # BentoML's own default
READY_TIMEOUT = 120.0  # seconds: a cold start imports MLflow and the flavour in each worker
STOP_TIMEOUT = 20.0
_LOG_TAIL = 40  # lines of the child's log shown when it fails

Mode = Literal["serve", "once", "dry-run"]


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def check_port(port: int, host: str = HOST) -> None:
    """A :class:`UserError` when ``host:port`` is taken (before BentoML fails on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"port {port} on {host} is in use ({exc.strerror})",
                hint="pass another one with --port, or --port 0 for any free port",
            ) from exc


def serve_argv(bundle: Bundle, *, host: str, port: int) -> list[str]:
    """The ``bentoml serve`` command line for ``bundle`` (with this interpreter's bentoml)."""
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        bundle.service,
        "--working-dir",
        str(bundle.root),
        "--host",
        host,
        "--port",
        str(port),
    ]


def post_json(host: str, port: int, path: str, body: Any, *, timeout: float = 30.0) -> Any:
    """POST ``body`` as JSON to ``http://host:port/path``; the decoded answer, or StepFailed."""
    where = f"http://{host}:{port}{path}"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        data = response.read()
    except OSError as exc:
        raise StepFailed(f"POST {where} failed: {exc}") from exc
    finally:
        connection.close()
    if response.status != 200:
        detail = data.decode("utf-8", "replace")[:500]
        raise StepFailed(f"POST {where} answered {response.status}: {detail}")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise StepFailed(f"POST {where} answered with something else than JSON: {exc}") from exc


class LocalServer:
    """One ``bentoml serve`` child for one bundle."""

    def __init__(
        self,
        bundle: Bundle,
        *,
        port: int,
        log_path: Path,
        host: str = HOST,
        env: Mapping[str, str] | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.bundle = bundle
        self.host = host
        self.port = port
        self.log_path = log_path
        self.env = env
        self.echo = echo
        self.child: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def argv(self) -> list[str]:
        return serve_argv(self.bundle, host=self.host, port=self.port)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.child = proc.spawn(self.argv, cwd=self.bundle.root, env=self.env, merge_stderr=True)
        assert self.child.stdout is not None
        self._pump = threading.Thread(
            target=_copy, args=(self.child.stdout, log, self.echo), daemon=True
        )
        self._pump.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until ``/readyz`` answers 200; stop the child and raise when it cannot."""
        assert self.child is not None, "start() first"
        deadline = time.monotonic() + timeout
        while True:
            code = self.child.poll()
            if code is not None:
                self._join_pump()
                raise StepFailed(
                    f"bentoml serve exited with code {code} before it was ready\n{self.log_tail()}"
                )
            if _ready(self.host, self.port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise StepFailed(
                    f"bentoml serve was not ready after {timeout:.0f}s\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop the child and its workers: SIGTERM, then SIGKILL what is left after ``timeout``."""
        child = self.child
        if child is None:
            return None
        workers = _descendants(child.pid)
        if child.poll() is None:
            child.terminate()
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        _kill_all(workers, timeout=5.0)
        self._join_pump()
        return code

    def wait(self) -> int:
        assert self.child is not None
        return self.child.wait()

    def log_tail(self, lines: int = _LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        tail = text.splitlines()[-lines:]
        return f"last lines of {self.log_path}:\n" + "\n".join(tail)

    def _join_pump(self) -> None:
        if self._pump is not None:
            self._pump.join(timeout=5.0)

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_signal(server: LocalServer) -> int:
    """Wait for the child; on SIGINT/SIGTERM stop it cleanly. The exit code to return:
    130 after Ctrl-C, 143 after SIGTERM, else the child's."""
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        # Stop from a thread: a signal handler must not block on the child.
        threading.Thread(target=server.stop, daemon=True).start()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = server.wait()
        server.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        return 128 + received[0]
    return code


def _ready(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=2.0)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _copy(source: IO[bytes], log: IO[bytes], echo: Callable[[str], None] | None) -> None:
    with log:
        for line in iter(source.readline, b""):
            log.write(line)
            log.flush()
            if echo is not None:
                echo(line.decode("utf-8", "replace").rstrip("\n"))
    source.close()


def _descendants(pid: int) -> Sequence[Any]:
    import psutil  # type: ignore[import-untyped,unused-ignore]

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _kill_all(processes: Sequence[Any], *, timeout: float) -> None:
    """Workers that outlived their arbiter: SIGTERM, then SIGKILL."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    alive = [p for p in processes if p.is_running()]
    for p in alive:
        with contextlib.suppress(psutil.Error):  # it exited meanwhile
            p.terminate()
    _, still = psutil.wait_procs(alive, timeout=timeout)
    for p in still:
        with contextlib.suppress(psutil.Error):
            p.kill()


@dataclass(frozen=True)
class LocalDeployment:
    """What ``somlier online deploy`` (without ``--use_k8s``) did or would do."""

    model: ResolvedModel
    bundle: Bundle
    url: str
    argv: tuple[str, ...]
    example_request: dict[str, Any]
    answer: Any = None  # the example request's answer (``--once``)
    exit_code: int = 0

    def curl(self) -> str:
        body = json.dumps(self.example_request)
        return shlex.join(
            ["curl", "-X", "POST", f"{self.url}/predict", "-H", "Content-Type: application/json",
             "-d", body]
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "version": self.model.version,
            "run_id": self.model.run_id,
            "flavour": self.model.flavour,
            "url": self.url,
            "predict_url": f"{self.url}/predict",
            "bundle": str(self.bundle.root),
            "service": self.bundle.service,
            "command": list(self.argv),
            "example_request": self.example_request,
            "answer": self.answer,
        }

    def answered(self) -> list[str]:
        """``--once``: the example request sent and its answer."""
        return [
            f"POST {self.url}/predict {json.dumps(self.example_request)}",
            json.dumps(self.answer),
        ]

    def lines(self) -> list[str]:
        return [
            f"model:   {self.model.name} version {self.model.version} ({self.model.flavour})",
            f"bundle:  {self.bundle.root}",
            f"url:     {self.url}/predict",
            f"command: {shlex.join(self.argv)}",
            f"example: {self.curl()}",
        ]


def deploy_locally(
    name: str,
    version: str,
    *,
    tracking_uri: str,
    workdir: Path,
    port: int,
    workers: int | str = "cpu_count",
    bundle_dir: Path | None = None,
    mode: Mode = "serve",
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] = print,
    server_echo: Callable[[str], None] | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> LocalDeployment:
    """Resolve the model into ``workdir``, stage its bundle (in ``bundle_dir``, default
    ``workdir/bundle``) and serve it on 127.0.0.1:``port``.

    ``serve`` blocks until Ctrl-C/SIGTERM (``exit_code`` 130/143, or the child's if it died);
    ``once`` sends the example request, keeps the answer, and stops; ``dry-run`` starts
    nothing. ``port`` 0 picks a free port.
    """
    from pipeline.online.bento import stage_bundle
    from pipeline.online.model_ref import resolve_model

    if port:
        check_port(port)
    else:
        port = free_port()
    model = resolve_model(name, version, tracking_uri=tracking_uri, dest=workdir / "download")
    bundle = stage_bundle(model, bundle_dir or workdir / "bundle", workers=workers)
    server = LocalServer(
        bundle, port=port, log_path=workdir / "bentoml.log", env=env, echo=server_echo
    )
    plan = LocalDeployment(
        model=model,
        bundle=bundle,
        url=server.url,
        argv=tuple(server.argv),
        example_request=model.example_request(),
    )
    if mode == "dry-run":
        return plan
    server.start()
    try:
        server.wait_ready(ready_timeout)
        if mode == "once":
            answer = post_json(server.host, server.port, "/predict", plan.example_request)
            return replace(plan, answer=answer)
        for line in plan.lines()[2:]:
            echo(line)
        echo("serving; Ctrl-C stops it")
        return replace(plan, exit_code=serve_until_signal(server))
    finally:
        server.stop()
