"""``somlier``: the entry point and the one error handler that maps failures to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from pipeline import __version__
from pipeline.cli.lazy import LazyGroup
from pipeline.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, SomlierError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(
    cls=LazyGroup,
    context_settings=CONTEXT,
    lazy={
        "validate": "pipeline.cli.validate_cmd:validate",
        "config": "pipeline.cli.config_cmd:config",
        "pipeline": "pipeline.cli.pipeline_cmd:pipeline",
        "dags": "pipeline.cli.dags_cmd:dags",
        "offline": "pipeline.cli.offline_cmd:offline",
        "online": "pipeline.cli.online_cmd:online",
        "api": "pipeline.cli.api_cmd:api",
        "new-project": "pipeline.cli.scaffold_cmd:new_project",
        "init": "pipeline.cli.scaffold_cmd:init",
        "new-monorepo": "pipeline.cli.scaffold_cmd:new_monorepo",
        "notebook-profiles": "pipeline.cli.scaffold_cmd:notebook_profiles",
        "notebook": "pipeline.cli.notebook_cmd:notebook",
    },
)
@click.version_option(__version__, "-V", "--version", prog_name="somlier")
def cli() -> None:
    """somlier: validate, build, schedule and serve the ML projects of a monorepo.

    Every project is a folder with a somlier.yaml. Exit codes: 0 success, 1 a step failed,
    2 wrong input, 3 internal error, 130 interrupted.
    """


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; never raises (but for SystemExit from --help)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="somlier", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USER_ERROR if exc.exit_code == 2 else exc.exit_code
    except SomlierError as exc:
        click.echo(exc.render(), err=True)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last resort: a bug, reported with a log
        from pipeline.cli import crash

        return crash.report(exc, args)
    return result if isinstance(result, int) else 0


def entry() -> None:
    """The console script."""
    sys.exit(main())
