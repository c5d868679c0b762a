"""The console script ``somlier``: picks how a command line runs, and maps every failure to the
exit codes of the CLI contract (the one place that does).

Most command lines go to the click application in :mod:`pipeline.cli.main`. ``somlier pipeline
changed``, which CI runs on every push and which otherwise spends most of its time importing
click, is started without it when its arguments are well formed
(:mod:`pipeline.cli.pipeline_changed_fast`); anything else there (``--help``, a missing
``--base``, an unknown option) goes to click too, so help and usage errors read the same either way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

EXIT_INTERRUPTED = 130  # pipeline.errors has them all; that module is imported only on failure


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


def guarded(run: Callable[[], int], args: list[str]) -> int:
    """``run()``'s exit code, with the failures every command shares turned into a message on
    stderr and an exit code: a :class:`~pipeline.errors.SomlierError` its own, Ctrl-C 130, a
    closed stdout (``somlier … | head``) 0, and anything else (a bug) 3 with a crash log."""
    try:
        return run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:
        from pipeline.errors import SomlierError

        if isinstance(exc, SomlierError):
            print(exc.render(), file=sys.stderr)
            return exc.exit_code
        from pipeline.cli import crash

        return crash.report(exc, args)


def entry() -> None:
    """The console script."""
    sys.exit(main())
