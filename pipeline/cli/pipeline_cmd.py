"""``somlier pipeline …``: the CI steps. ``changed`` lists the projects a branch touches."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.lazy import LazyGroup
from pipeline.cli.options import json_option, repo_option


@click.group(
    cls=LazyGroup,
    lazy={
        "build": "pipeline.cli.pipeline_build_cmd:build",
        "event": "pipeline.cli.pipeline_event_cmd:event",
        "report": "pipeline.cli.pipeline_report_cmd:report",
    },
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
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    metavar="N",
    help="With --matrix: past N projects, N balanced batches (GitHub allows 256 jobs).",
)
@repo_option
def changed(
    base: str, head: str, as_json: bool, matrix: bool, max_jobs: int, repo: Path | None
) -> int:
    """The projects HEAD changes, compared with its merge base with BASE (like base...head).

    A changed path belongs to the closest folder with a somlier.yaml; projects whose
    project.depends_on globs match a changed path count too, and a change to a global path
    (monorepo.global_paths in .somlier/platform.yaml) counts for every project. Changed
    somlier.yaml files are validated first. A shallow clone is deepened until the merge base is
    there.

    --json prints {"base", "head", "merge_base", "projects": [{"name", "path", "reasons"}],
    "deleted": [{"name", "path"}], "all"} with commit ids for base, head and merge_base.
    --matrix prints one {"project", "path"} job per project, or past --max-jobs projects that
    many balanced batches {"batch", "project" (a label), "path" (folders, space-separated),
    "count"}: each folder of "path" goes to pipeline build --project.
    Exit 0, or 2 on an unknown revision or an invalid somlier.yaml.
    """
    if as_json and matrix:
        raise click.UsageError("--json and --matrix are two forms of the output: pick one")
    # Imported here, not at the top: every somlier command imports this module.
    from pipeline.cli import pipeline_changed_fast

    return pipeline_changed_fast.run(
        pipeline_changed_fast.Options(base, head, as_json, matrix, repo, max_jobs)
    )
