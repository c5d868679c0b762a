"""``somlier online train``: the edge that reads the environment and settings, then hands plain
values to pipeline.online (MLflow is imported only there)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli.options import gpu_options, json_option, output_option, repo_option
from pipeline.cli.wiring import settings_at

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.tracking import Tracking
    from pipeline.online.train import RunResult
    from pipeline.online.training import Trained, TrainStart


def _tracking(base: Path, settings: PlatformSettings) -> Tracking:
    from pipeline.cli.wiring.mlflow_store import tracking

    return tracking(base, settings)


@click.command()
@click.argument("project_name")
@click.argument("project_ref")
@click.option(
    "--github_uri",
    "--github-uri",
    "github_uri",
    metavar="URI",
    help="The monorepo: a URL (https://…, git@…, file://…) or a local clone "
    "[default: the git repository around the current folder].",
)
@click.option(
    "-e",
    "--entrypoint",
    default="train",
    show_default=True,
    metavar="NAME",
    help="The somlier.yaml entrypoint to run.",
)
@click.option(
    "-P",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=V1[,V2…]",
    help="Passed to the entrypoint as --KEY VALUE and logged as a run param; a list of values, "
    "or several --param, make one run per combination. Repeatable.",
)
@click.option(
    "--k8s",
    "--use_k8s",
    "--use-k8s",
    "k8s",
    is_flag=True,
    help="Print Kubernetes Jobs (one per run) that train in the project's image, instead of "
    "running here.",
)
@click.option(
    "--image-tag",
    metavar="TAG",
    help="With --k8s: the project image's tag [default: sha-<commit>, as the pipeline tags it].",
)
@click.option("--cpu", metavar="Q", help="With --k8s: CPU request, e.g. 2 or 500m.")
@click.option("--memory", metavar="Q", help="With --k8s: memory request and limit, e.g. 4Gi.")
@gpu_options(
    "With --k8s: GPU type from the platform's gpu_types (node selector, tolerations).",
    "With --k8s: GPUs per Job [default: 1 with --gpu_type].",
)
@output_option("With --k8s: write the Jobs' YAML to FILE instead of standard output.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check out and plan, print the runs (with --k8s, the Job YAML); run and write nothing.",
)
@json_option
@repo_option
def train(
    project_name: str,
    project_ref: str,
    github_uri: str | None,
    entrypoint: str,
    params: tuple[str, ...],
    k8s: bool,
    image_tag: str | None,
    cpu: str | None,
    memory: str | None,
    gpu_type: str | None,
    num_of_gpus: int | None,
    output: Path | None,
    dry_run: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Train PROJECT_NAME at PROJECT_REF with MLflow tracking.

    PROJECT_NAME is the project's folder in the monorepo (projects/churn-model) or its folder
    name; PROJECT_REF a branch, tag or commit id. The monorepo is checked out shallowly into a
    temporary folder; each run goes to the experiment named after the project, tagged with
    somlier.commit, somlier.ref and somlier.project. Exit 1 when a run failed (the rest of the
    grid still runs), 2 on wrong input, 130 when interrupted (the run is marked KILLED).
    """
    from pipeline.online import training
    from pipeline.online.train import parse_params

    jobs = training.job_options(
        k8s, image_tag=image_tag, cpu=cpu, memory=memory, gpu_type=gpu_type,
        num_of_gpus=num_of_gpus, output=output,
    )  # fmt: skip
    grid = parse_params(params)
    base = repo or Path()
    settings, _ = settings_at(base)
    tracking = _tracking(base, settings)
    request = training.TrainRequest(
        project=project_name,
        ref=project_ref,
        source=training.source_for(base, github_uri),
        entrypoint=entrypoint,
        grid=grid,
        jobs=jobs,
        output=output,
        dry_run=dry_run,
    )
    shown = _Shown(as_json)
    result = training.train(
        request,
        settings=settings,
        tracking=tracking,
        environ=os.environ,
        out=sys.stderr if as_json else sys.stdout,
        err=sys.stderr,
        on_start=shown.started,
        on_run=shown.ran,
    )
    return _print(result, as_json=as_json)


@dataclass(frozen=True)
class _Shown:
    """The lines printed while training (none with --json)."""

    as_json: bool

    def started(self, start: TrainStart) -> None:
        if not self.as_json:
            click.echo(start.line(), err=True)

    def ran(self, index: int, total: int, run: RunResult) -> None:
        if not self.as_json:
            click.echo(f"run {index}/{total}: {run.line()}")


def _print(result: Trained, *, as_json: bool) -> int:
    from pipeline.online.training import TrainJobs, TrainPlanned

    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    elif isinstance(result, TrainJobs):
        click.echo(result.text(), nl=False)
    elif isinstance(result, TrainPlanned):
        for line in result.lines():
            click.echo(line)
    else:
        click.echo(result.summary())
        if result.registrable is not None:
            model = shlex.quote(result.model_name)
            click.echo(f"Next: somlier online register {result.registrable} {model}", err=True)
    return result.exit_code
