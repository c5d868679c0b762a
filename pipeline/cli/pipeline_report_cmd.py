"""``somlier pipeline report``: the one report of a matrix build, from its batches' results."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import click

from pipeline.cli.options import json_option, repo_option


@click.command()
@click.argument(
    "results", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RESULTS..."
)
@json_option
@repo_option
def report(results: tuple[Path, ...], as_json: bool, repo: Path | None) -> int:
    """Report the batches of a matrix build as one build: RESULTS are the files `somlier
    pipeline build --results FILE` wrote (or folders holding them).

    Sets the commit statuses (one per project; past 50 projects one, somlier/build/all, that
    counts them), updates the one PR comment, posts one Slack message, writes the job summary
    and the outputs (images, failed, ok), as `pipeline build` does for its projects. --json
    prints the object `pipeline build --json` prints. Exit 1 when a project failed, 2 when a
    result file is not one.
    """
    from pipeline.cli import wiring
    from pipeline.cli.pipeline_build_cmd import _root, echo_result
    from pipeline.config.settings_load import load_settings
    from pipeline.steps.batch_results import report_batches

    environ = os.environ
    root = _root(repo)
    settings = load_settings(root, environ)
    name = environ.get("GITHUB_REPOSITORY") or settings.github.projects_repo
    reports = partial(wiring.reports_for, settings, environ, name, to_github=True)
    result = report_batches(results, repo=name or root.name, link=None, reports=reports)
    return echo_result(result, as_json=as_json)
