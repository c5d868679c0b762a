"""The progress display of a command, chosen once at the edge from its flags and the terminal."""

from __future__ import annotations

import os
import sys

from pipeline.notify.progress import Progress, choose_mode


def progress_for(quiet: bool) -> Progress:
    """None shown when the command prints a structured result (``--json``), a live spinner on a
    terminal, plain lines in logs and CI; always on standard error."""
    return Progress(choose_mode(quiet=quiet, stream=sys.stderr, environ=os.environ), sys.stderr)
