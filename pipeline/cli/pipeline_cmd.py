"""``somlier pipeline …``: the CI steps. ``changed`` lists the projects a branch touches."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli.lazy import LazyGroup
from pipeline.cli.options import json_option, repo_option
from pipeline.errors import EXIT_OK

if TYPE_CHECKING:
    from pipeline.monorepo.report import Report


@click.group(
    cls=LazyGroup,
    lazy={"build": "pipeline.cli.images_cmd:build", "event": "pipeline.cli.images_cmd:event"},
)
def pipeline() -> None:
    """CI steps for the monorepo: change detection, image builds, events."""


@pipeline.command()
@click.option("--base", required=True, metavar="REF", help="The branch the change goes into.")
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="The change.")
@json_option
@click.option(
    "--matrix", is_flag=True, help='Print a GitHub Actions matrix: {"include": [{project, path}]}.'
)
@repo_option
def changed(base: str, head: str, as_json: bool, matrix: bool, repo: Path | None) -> int:
    """The projects HEAD changes, compared with its merge base with BASE (like base...head).

    A changed path belongs to the closest folder with a somlier.yaml; projects whose
    project.depends_on globs match a changed path count too, and a change to a global path
    (monorepo.global_paths in .somlier/platform.yaml) counts for every project. Changed
    somlier.yaml files are validated first. A shallow clone is deepened until the merge base is
    there.

    --json prints {"base", "head", "merge_base", "projects": [{"name", "path", "reasons"}],
    "deleted": [{"name", "path"}], "all"} with commit ids for base, head and merge_base.
    Exit 0, or 2 on an unknown revision or an invalid somlier.yaml.
    """
    if as_json and matrix:
        raise click.UsageError("--json and --matrix are two forms of the output: pick one")
    # Imported here, not at the top: every somlier command imports this module.
    from pipeline.monorepo import detect, report

    found = detect.detect(repo or Path.cwd(), base, head, os.environ)
    if as_json:
        click.echo(json.dumps(report.as_json(found), indent=2))
    elif matrix:
        click.echo(json.dumps(report.as_matrix(found), separators=(",", ":")))
    else:
        for line in report.as_text(found):
            click.echo(line)
        click.echo(_summary(found), err=True)
    return EXIT_OK


def _summary(found: Report) -> str:
    count = len(found.projects)
    text = f"{count} project{'s' if count != 1 else ''} changed"
    if found.all:
        text += " (all: a global path changed)"
    if found.deleted:
        text += f", {len(found.deleted)} deleted"
    return f"{text}; merge base {found.merge_base[:12]}"
