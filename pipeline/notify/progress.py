"""Progress of long steps (a virtualenv install, an image build, a training run, a server
starting): a live spinner with the elapsed time on a terminal, one plain line when a step starts
and one when it ends in logs (CI), nothing under ``--json``.

The spinner is rich's ``Console.status``; rich is imported only when a terminal shows it, so
commands that never reach a long step pay nothing for it. Progress goes to standard error: the
command's results on standard output stay parseable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal, TextIO

Mode = Literal["live", "plain", "off"]


def choose_mode(*, quiet: bool, stream: TextIO, environ: Mapping[str, str]) -> Mode:
    """``off`` when the command prints a structured result (``--json``); ``live`` on an
    interactive terminal; ``plain`` in logs, in CI (``CI`` set, as every CI service sets it)
    and on a dumb terminal."""
    if quiet:
        return "off"
    if environ.get("CI", "").lower() not in ("", "0", "false") or environ.get("TERM") == "dumb":
        return "plain"
    isatty = getattr(stream, "isatty", None)
    return "live" if isatty is not None and isatty() else "plain"


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Progress:
    """Shows the long steps of one command; ``step`` is a context manager."""

    def __init__(self, mode: Mode, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream if stream is not None else sys.stderr

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Show ``title`` while the block runs, then whether it ended well and how long it took.
        An exception is re-raised unchanged after the failure line."""
        if self.mode == "off":
            yield
            return
        started = time.monotonic()
        try:
            if self.mode == "live":
                with self._spinner(title):
                    yield
            else:
                self._line(f"{title} ...")
                yield
        except BaseException:
            self._line(f"✗ {title} (failed after {_elapsed(time.monotonic() - started)})")
            raise
        self._line(f"✓ {title} ({_elapsed(time.monotonic() - started)})")

    @contextmanager
    def _spinner(self, title: str) -> Iterator[None]:
        from rich.console import Console
        from rich.progress import Progress as Live
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, force_terminal=True, highlight=False)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Live(*columns, console=console, transient=True) as live:
            live.add_task(title, total=None)
            yield

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


QUIET = Progress("off")
