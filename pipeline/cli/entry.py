"""The console script ``somlier``: picks how a command line runs, and maps every failure to the
exit codes of the CLI contract (through :func:`pipeline.cli.guard.guarded`).

Most command lines go to the click application in :mod:`pipeline.cli.main`. ``somlier pipeline
changed``, which CI runs on every push and which otherwise spends most of its time importing
click, is started without it when its arguments are well formed
(:mod:`pipeline.cli.pipeline_changed_fast`); anything else there (``--help``, a missing
``--base``, an unknown option) goes to click too, so help and usage errors read the same either way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pipeline.cli.guard import guarded


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    return guarded(lambda: _dispatch(args), args)


def _dispatch(args: list[str]) -> int:
    if args[:2] == ["pipeline", "changed"]:
        from pipeline.cli import pipeline_changed_fast

        options = pipeline_changed_fast.parse(args[2:])
        if options is not None:
            return pipeline_changed_fast.run(options)
    from pipeline.cli.main import run_click

    return run_click(args)


def entry() -> None:
    """The console script."""
    sys.exit(main())
