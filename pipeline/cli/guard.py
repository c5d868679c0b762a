"""The one place that maps a command's failures to the exit codes of the CLI contract; both ways
in (:mod:`pipeline.cli.entry`, the console script, and :func:`pipeline.cli.main.main`) run
through it."""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_INTERRUPTED = 130  # pipeline.errors has them all; that module is imported only on failure


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
