"""The image step's adapters, built from the settings and the environment: the registry, the
builders (Cloud Build or the engine, with BuildKit when something is built), where reports go
(GitHub, Slack or the console; a matrix batch only its job summary and outputs), the DAG
publisher of a merge, and the progress display."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli import wiring
from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.steps.flow import Reports
    from pipeline.steps.image_step import StepAdapters


def _log(project: str, line: str) -> None:
    click.echo(f"[{project}] {line}", err=True)


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
    from pipeline.cli.wiring.display import progress_for
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
    from pipeline.cli.wiring.dags_repo import publish_merged

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
