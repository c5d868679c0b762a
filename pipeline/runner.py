"""Run a project's entrypoint: stream each output line as a record, forward signals, and return
the child's exit code."""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Literal

from pipeline import proc
from pipeline.config.model import ProjectConfig
from pipeline.errors import UserError

Format = Literal["json", "text"]


def _now() -> str:
    return datetime.datetime.now().isoformat()


def format_line(name: str, stream: str, line: str, fmt: Format) -> str:
    """One output line of the child as the original tool printed it (JSON), or as text."""
    if fmt == "json":
        return json.dumps({"name": name, stream: line, "timestamp": _now()}, ensure_ascii=False)
    return f"[{name}] {line.rstrip(chr(10))}"


def _pump(source: IO[bytes], write: Callable[[str], None]) -> None:
    for raw in iter(source.readline, b""):
        write(raw.decode("utf-8", errors="replace"))
    source.close()


def argv_for(config: ProjectConfig, name: str, extra: Sequence[str]) -> list[str]:
    entry = config.entrypoints.get(name)
    if entry is None:
        known = ", ".join(sorted(config.entrypoints))
        raise UserError(
            f"no entrypoint {name!r} in {config.path}",
            hint=f"known entrypoints: {known}",
        )
    return [*entry.argv, *extra]


def run_entrypoint(
    config: ProjectConfig,
    name: str,
    extra: Sequence[str],
    environ: Mapping[str, str],
    *,
    fmt: Format,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
) -> int:
    """Run entrypoint ``name`` in the project folder; return its exit code (128+N on signal N)."""
    argv = argv_for(config, name, extra)
    lock = threading.Lock()

    def writer(stream: IO[str], key: str) -> Callable[[str], None]:
        def write(line: str) -> None:
            text = format_line(name, key, line, fmt)
            with lock:
                stream.write(text + "\n")
                stream.flush()

        return write

    interactive = sys.stdin is not None and sys.stdin.isatty()
    started: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Ctrl-C in a terminal already reaches the child (same process group): don't send twice.
        if signum == signal.SIGINT and interactive:
            return
        if not started:
            pending.append(signum)  # arrived while the child was starting: deliver it after
        elif started[0].poll() is None:
            started[0].send_signal(signum)

    # Handlers first, then the child: a signal can never fall between the two.
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    pumps: list[threading.Thread] = []
    try:
        child = proc.spawn(argv, cwd=config.root, env=environ)
        started.append(child)
        for signum in pending:
            child.send_signal(signum)
        assert child.stdout is not None and child.stderr is not None
        pumps = [
            threading.Thread(target=_pump, args=(child.stdout, writer(out, "stdout")), daemon=True),
            threading.Thread(target=_pump, args=(child.stderr, writer(err, "stderr")), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for pump in pumps:
            pump.join()
    return 128 - code if code < 0 else code


def project_file(start: Path, explicit: Path | None) -> Path:
    """The somlier.yaml to use: ``-f FILE``, or the nearest one in ``start`` and its parents."""
    if explicit is not None:
        return explicit
    for folder in (start, *start.parents):
        candidate = folder / "somlier.yaml"
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            break
    raise UserError(
        f"no somlier.yaml in {start} or its parents",
        hint="run inside a project folder, or pass -f path/to/somlier.yaml",
    )


def environment_for(environ: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the caller's, with unbuffered Python output so lines stream."""
    env = dict(environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
