"""``somlier pipeline build`` and ``somlier pipeline event``: the image step from the CLI and
from GitHub Actions. This module is the edge: it reads the environment (``GITHUB_*``, tokens,
``DOCKER_HOST``) once and hands plain settings to the step."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli import wiring
from pipeline.cli.options import json_option, repo_option
from pipeline.errors import EXIT_OK, UserError

if TYPE_CHECKING:  # the runtime imports are deferred to keep --help fast
    from pipeline.build.refs import Trigger
    from pipeline.config.settings import PlatformSettings
    from pipeline.steps.flow import Reports
    from pipeline.steps.image_step import ImageStepResult, StepAdapters


def _log(project: str, line: str) -> None:
    click.echo(f"[{project}] {line}", err=True)


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
    from pipeline.config.pins import pinned
    from pipeline.config.settings import load_settings
    from pipeline.config.settings_at import load_settings_at
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


def step_adapters(
    settings: PlatformSettings,
    environ: Mapping[str, str],
    *,
    repo: str | None,
    to_github: bool,
    publish_dags: bool = True,
    quiet: bool = True,
    batch: bool = False,
) -> StepAdapters:
    """The image step's adapters from settings and the environment: registry, builders,
    reports (GitHub when ``to_github``, Slack or the console; with ``batch`` only the job
    summary and outputs), the DAG publisher, progress."""
    from pipeline.cli.progress import progress_for
    from pipeline.steps.image_step import StepAdapters

    registry = wiring.registry_for(settings, environ)
    publisher = partial(_publish_merged, settings, environ) if publish_dags else None
    reports = partial(
        wiring.reports_for,
        settings,
        environ,
        repo or settings.github.projects_repo,
        to_github=to_github,
    )
    return StepAdapters(
        settings=settings,
        registry=registry,
        builders=partial(_builders, settings, environ, registry),
        reports=partial(_files_only, environ) if batch else reports,
        log=_log,
        packages_log=lambda line: click.echo(line, err=True),
        publish_dags=publisher,
        progress=progress_for(quiet),
    )


def _publish_merged(
    settings: PlatformSettings,
    environ: Mapping[str, str],
    root: Path,
    sha: str,
    configs: Sequence[Any],
    outcomes: Sequence[Any],
    deleted: Sequence[str],
) -> list[dict[str, Any]]:
    """The merge's DAG publisher (publish_edge), imported when a merge publishes."""
    from pipeline.cli.publish_edge import publish_merged

    return publish_merged(root, sha, configs, outcomes, deleted, settings, environ)


def _files_only(environ: Mapping[str, str]) -> Reports:
    """A batch's reports: its job summary and step outputs; ``pipeline report`` posts."""
    from pipeline.steps.flow import Reports

    summary, output = environ.get("GITHUB_STEP_SUMMARY"), environ.get("GITHUB_OUTPUT")
    return Reports(
        summary_path=Path(summary) if summary else None,
        output_path=Path(output) if output else None,
    )


def _builders(
    settings: PlatformSettings, environ: Mapping[str, str], registry: Any, planned: bool
) -> Callable[[], Any]:
    """The factory of the builder the settings choose (Cloud Build, or the engine; with
    BuildKit when there is something to build)."""
    cloud = settings.builder.type == "cloudbuild"
    if cloud and registry is None:
        raise UserError(
            "builder.type cloudbuild pushes every image: registry.url is not set",
            hint="set registry.url (Artifact Registry or GCR) in .somlier/platform.yaml",
        )
    buildkit = (
        wiring.buildkit_for(settings.builder.buildkit, environ) if planned and not cloud else None
    )
    return wiring.builder_factory(settings, environ, registry=registry, buildkit=buildkit)


REPO_OPTION = repo_option


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
@REPO_OPTION
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


@click.command()
@click.option(
    "--name",
    envvar="GITHUB_EVENT_NAME",
    metavar="EVENT",
    help="The event name [default: $GITHUB_EVENT_NAME].",
)
@click.option(
    "--path",
    "event_path",
    envvar="GITHUB_EVENT_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The event payload [default: $GITHUB_EVENT_PATH].",
)
@click.option("--include-drafts", is_flag=True, help="Build draft pull requests too.")
@click.option("--dry-run", is_flag=True, help="Print the plan as JSON; build, push, post nothing.")
@json_option
@REPO_OPTION
def event(
    name: str | None,
    event_path: Path | None,
    include_drafts: bool,
    dry_run: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Run the image step a GitHub event asks for.

    pull_request (opened, synchronize, reopened, ready_for_review): build the changed projects
    with pr-N tags, set a commit status per project, update one PR comment, post to Slack.
    push to the default branch: build or retag with latest. issue_comment (created, on a PR):
    the comment commands /deploy, /build, /dag, /rollback, /help (docs/commands.md); exit 1
    when one is refused or fails. Anything else is ignored with a one-line reason (exit 0).
    """
    from pipeline.steps.event import Ignored, decide, load_payload
    from pipeline.steps.flow import context_for

    if not name or event_path is None:
        raise UserError(
            "no event: set GITHUB_EVENT_NAME and GITHUB_EVENT_PATH, or pass --name and --path"
        )
    if name == "issue_comment":
        from pipeline.cli.comment_edge import comment_root, run_event

        return run_event(
            name,
            load_payload(event_path),
            root=comment_root(repo),
            environ=os.environ,
            dry_run=dry_run,
            as_json=as_json,
        )
    decision = decide(name, load_payload(event_path), include_drafts=include_drafts)
    if isinstance(decision, Ignored):
        if as_json or dry_run:
            click.echo(json.dumps({"ignored": True, "reason": decision.reason}))
        else:
            click.echo(f"ignored: {decision.reason}")
        return EXIT_OK
    context, base, head = context_for(decision)
    return _run(
        _root(repo),
        base=base,
        head=head,
        projects=(),
        trigger=context.trigger,
        pr=context.pr_number,
        dry_run=dry_run,
        as_json=as_json,
        repo=decision.repo,
        link=decision.html_url or None,
        environ=os.environ,
    )
