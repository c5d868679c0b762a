"""What an internal error (a bug) prints: one line, and a log file with everything else."""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path

import click

from pipeline import __version__, resources
from pipeline.errors import EXIT_INTERNAL


def _log_dir() -> Path:
    return resources.cache_dir()


def _system() -> str:
    # Not platform.platform(): it may start `uname -p`, and a crash handler starts no process.
    uname = os.uname()
    return f"{uname.sysname} {uname.release} {uname.machine}, {platform.python_implementation()}"


def report(exc: BaseException, argv: list[str]) -> int:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    text = "\n".join(
        [
            f"somlier {__version__} crashed at {stamp}",
            f"argv: {argv!r}",
            f"python: {sys.version.split()[0]} ({_system()})",
            "",
            "".join(traceback.format_exception(exc)),
        ]
    )
    try:
        folder = _log_dir()
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    log = folder / f"crash-{stamp}-{os.getpid()}.log"
    log.write_text(text, encoding="utf-8")
    click.echo(
        f"internal error: {type(exc).__name__}: {exc}\n"
        f"This is a bug in somlier {__version__}. The details are in {log};\n"
        "please attach that file when you report it.",
        err=True,
    )
    return EXIT_INTERNAL
