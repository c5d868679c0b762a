"""``somlier pipeline build``: the image step from the CLI (``pipeline event`` runs it for a
GitHub event, ``pipeline report`` posts a matrix build's results). The environment is read
here, once; the adapters are built in :mod:`pipeline.cli.wiring.step_adapters`."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli.options import json_option, repo_option
from pipeline.errors import UserError

if TYPE_CHECKING:  # the runtime imports are deferred to keep --help fast
    from pipeline.config.settings import PlatformSettings
    from pipeline.images.refs import Trigger
    from pipeline.steps.image_step import ImageStepResult


def _root(repo: Path | None) -> Path:
    from pipeline.monorepo.discovery import repo_root

    start = repo or Path.cwd()
    root = repo_root(start)
    if root is None:
        raise UserError(f"{start} is not inside a git repository")
    return root


def _run(
    root: Path,
    *,
    base: str | None,
    head: str,
    projects: Sequence[str],
    trigger: Trigger,
    pr: int | None,
    dry_run: bool,
    as_json: bool,
    repo: str | None,
    link: str | None,
    environ: Mapping[str, str],
    settings: PlatformSettings | None = None,
    publish_dags: bool = True,
    jobs: int | None = None,
    results: Path | None = None,
) -> int:
    """Run the image step and print its result (``--json``/``--dry-run``: the JSON object).

    ``settings``: given by /build (read from the default branch's checkout, never from the
    PR's tree at ``root``, so a PR cannot redirect pushes and credentials); otherwise a pull
    request's run reads them at ``base`` (:mod:`pipeline.config.settings_at`), any other run
    from the checkout. ``publish_dags``: on
    a main build with ``github.dags_repo`` set, also publish the changed projects' DAGs.
    ``results``: a batch of a matrix build: write the result there, post nothing."""
    from pipeline.cli.wiring.step_adapters import step_adapters
    from pipeline.config.pins import pinned
    from pipeline.config.settings_at import load_settings_at
    from pipeline.config.settings_load import load_settings
    from pipeline.steps.image_step import run_image_step

    pin: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if settings is None and trigger == "pr" and base:
        settings = load_settings_at(root, base, environ)  # never the PR's own edit of them
        pin = pinned(root, settings)
    settings = settings or load_settings(root, environ)
    adapters = step_adapters(
        settings,
        environ,
        repo=repo,
        to_github=trigger != "manual",
        publish_dags=publish_dags,
        quiet=as_json or dry_run,
        batch=results is not None,
    )
    with pin:
        result = run_image_step(
            root,
            head=head,
            base=base,
            projects=projects,
            trigger=trigger,
            pr=pr,
            repo=repo,
            link=link,
            dry_run=dry_run,
            jobs=jobs,
            environ=environ,
            adapters=adapters,
        )
    if results is not None and not dry_run:
        from pipeline.steps import batch_results

        batch_results.write(result, results)
    return echo_result(result, as_json=as_json or dry_run)


def echo_result(result: ImageStepResult, *, as_json: bool) -> int:
    """Print the image step's result (text, or its JSON object); return its exit code."""
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.text_lines():
            click.echo(line)
    return result.exit_code


@click.command()
@click.option(
    "--base", metavar="REF", help="Build the projects changed since the merge base with REF."
)
@click.option(
    "--head", default="HEAD", show_default=True, metavar="REF", help="The revision to build."
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="DIR",
    help="Build this project folder (repeatable) instead of the changed ones.",
)
@click.option(
    "--pr", type=click.IntRange(min=1), help="The pull request: adds pr-N, reports to it."
)
@click.option("--main", "on_main", is_flag=True, help="A release build: adds latest.")
@click.option(
    "--no-dags",
    is_flag=True,
    help="With --main: do not publish the DAGs, even with github.dags_repo set (a later step "
    "does, with a token for that repository).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan as JSON; build, push, post nothing.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 32),
    metavar="N",
    help="Build at most N projects at once [default: builder.parallelism, 2].",
)
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A batch of a matrix build: write the result to FILE and post nothing (no statuses, "
    "PR comment or Slack); `somlier pipeline report` posts for every batch at once.",
)
@json_option
@repo_option
def build(
    base: str | None,
    head: str,
    projects: tuple[str, ...],
    pr: int | None,
    on_main: bool,
    no_dags: bool,
    dry_run: bool,
    jobs: int | None,
    results: Path | None,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Build and push the images of changed (or named) projects.

    Tags: src-<source hash> always (an image with the same sources is reused: tagged
    registry-side, not rebuilt), sha-<short>, pr-N with --pr, latest and project.docker.tags
    with --main. Without registry.url the images stay in the local engine. With --main and
    github.dags_repo set, the DAGs of the changed projects whose images were pushed are published
    too (unless --no-dags). A batch of a matrix build (docs/pipeline.md#matrix) builds its
    --project folders with --results FILE and leaves the reporting to `pipeline report`. Exit 1
    when a project fails to build (the others still build), 2 on wrong input.
    """
    if pr is not None and on_main:
        raise click.UsageError("--pr and --main: pick one")
    if no_dags and not on_main:
        raise click.UsageError("--no-dags goes with --main (only a main build publishes DAGs)")
    trigger: Trigger = "pr" if pr is not None else ("main" if on_main else "manual")
    environ = os.environ
    return _run(
        _root(repo),
        base=base,
        head=head,
        projects=projects,
        trigger=trigger,
        pr=pr,
        dry_run=dry_run,
        as_json=as_json,
        repo=environ.get("GITHUB_REPOSITORY"),
        link=None,
        environ=environ,
        publish_dags=not no_dags,
        jobs=jobs,
        results=results,
    )
