"""``somlier``: the entry point and the one error handler that maps failures to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from pipeline import __version__
from pipeline.cli.guard import guarded
from pipeline.cli.lazy import LazyGroup
from pipeline.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR

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
        "schema": "pipeline.cli.schema_cmd:schema",
    },
)
@click.version_option(__version__, "-V", "--version", prog_name="somlier")
def cli() -> None:
    """somlier: validate, build, schedule and serve the ML projects of a monorepo.

    Every project is a folder with a somlier.yaml. Exit codes: 0 success, 1 a step failed,
    2 wrong input, 3 internal error, 130 interrupted.
    """


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI through click and return its exit code; never raises (but for SystemExit from
    --help). The console script is :func:`pipeline.cli.entry.main`, which may take a faster way
    in for a command CI runs on every push."""
    args = list(sys.argv[1:] if argv is None else argv)
    return guarded(lambda: run_click(args), args)


def run_click(args: list[str]) -> int:
    """``args`` through the click application; click's own failures (usage errors, Ctrl-C at a
    prompt, ``--help``'s exit) become exit codes here, every other one in
    :func:`~pipeline.cli.guard.guarded`."""
    try:
        result = cli.main(args=args, prog_name="somlier", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USER_ERROR if exc.exit_code == 2 else exc.exit_code
    return result if isinstance(result, int) else 0


def entry() -> None:
    """The console script of earlier installs (now :func:`pipeline.cli.entry.entry`)."""
    sys.exit(main())
