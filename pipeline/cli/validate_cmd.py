"""``somlier validate [PATH…]``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from pipeline.cli import output
from pipeline.config.validation import validate_files
from pipeline.errors import EXIT_OK, EXIT_USER_ERROR, UserError
from pipeline.monorepo import discovery


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (stable; for scripts)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github: GitHub Actions ::error annotations.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes [default: CPUs].")
def validate(paths: tuple[Path, ...], as_json: bool, fmt: str, jobs: int | None) -> int:
    """Validate somlier.yaml files.

    PATHS are files or folders (folders are searched). Without PATHS: every project of the git
    repository around the current folder (git ls-files), or of the current folder outside git.
    Exit 0 when every file is valid, 2 otherwise.
    """
    cwd = Path.cwd()
    files = discovery.expand(list(paths)) if paths else discovery.default_projects(cwd)
    if not files:
        where = ", ".join(map(str, paths)) or str(cwd)
        raise UserError(f"no somlier.yaml found in {where}", hint="pass a file or a project folder")
    result = validate_files(files, os.environ, cwd=cwd, jobs=jobs)
    if as_json:
        click.echo(json.dumps(output.validation_json(result), indent=2))
    else:
        for report in result.reports:
            for diag in report.diagnostics:
                click.echo(output.github_annotation(diag) if fmt == "github" else diag.format())
        click.echo(output.validation_summary(result), err=True)
    return EXIT_OK if result.ok else EXIT_USER_ERROR
