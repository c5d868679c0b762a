"""``somlier online train`` and ``somlier online register``: the edge that reads the environment
and settings, then hands plain values to pipeline.online (MLflow is imported only there)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli.options import gpu_options, json_option, output_option, repo_option
from pipeline.cli.wiring import settings_at

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.tracking import Tracking
    from pipeline.online.train import TrainPlan
    from pipeline.online.train_job import RenderedJob


def _tracking(base: Path, settings: PlatformSettings) -> Tracking:
    from pipeline.cli.tracking_edge import tracking

    return tracking(base, settings)


def _source(base: Path, github_uri: str | None) -> str:
    from pipeline.errors import UserError
    from pipeline.monorepo.discovery import repo_root

    if github_uri:
        return github_uri
    root = repo_root(base.resolve())
    if root is None:
        raise UserError(
            f"{base.resolve()} is not inside a git repository",
            hint="run inside a clone of the monorepo, or pass --github_uri URL_OR_PATH",
        )
    return str(root)


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
    from pipeline.errors import UserError
    from pipeline.online import train as core
    from pipeline.online.checkout import checkout

    k8s_only = {
        "--image-tag": image_tag,
        "--cpu": cpu,
        "--memory": memory,
        "--gpu_type": gpu_type,
        "--num_of_gpus": num_of_gpus,
        "--output": output,
    }
    stray = [name for name, value in k8s_only.items() if value is not None]
    if stray and not k8s:
        raise UserError(f"{', '.join(stray)} only apply with --k8s")
    grid = core.parse_params(params)
    base = repo or Path()
    settings, _ = settings_at(base)
    tracking = _tracking(base, settings)
    source = _source(base, github_uri)
    with tempfile.TemporaryDirectory(prefix="somlier-train-") as tmp:
        tree = checkout(source, project_ref, Path(tmp) / "repo", os.environ)
        plan = core.prepare(tree, project_name, entrypoint, grid, os.environ)
        if not as_json:
            click.echo(
                f"project {plan.config.name} at {tree.ref} ({tree.commit[:12]}) from "
                f"{tree.source}; tracking {tracking.shown}",
                err=True,
            )
        if k8s:
            from pipeline.online import train_job

            options = train_job.JobOptions(
                image_tag=image_tag,
                cpu=cpu,
                memory=memory,
                gpu_type=gpu_type,
                num_of_gpus=num_of_gpus,
            )
            jobs = train_job.render_jobs(
                plan, commit=tree.commit, settings=settings, tracking=tracking, options=options
            )
            _print_jobs(jobs, output, dry_run=dry_run, as_json=as_json)
            return 0
        if dry_run:
            _print_plan(plan, tracking, as_json=as_json)
            return 0
        return _run(plan, tracking, as_json=as_json)


def _print_jobs(
    jobs: list[RenderedJob], output: Path | None, *, dry_run: bool, as_json: bool
) -> None:
    from pipeline.online.train_job import to_yaml

    text = to_yaml(jobs)
    written = output is not None and not dry_run
    if output is not None and written:
        output.write_text(text, encoding="utf-8")
    if as_json:
        body = {
            "jobs": [j.to_json() for j in jobs],
            "output": str(output) if output is not None and written else None,
            "yaml": text,
        }
        click.echo(json.dumps(body, indent=2))
    elif written:
        click.echo(f"wrote {len(jobs)} Job{'s' if len(jobs) != 1 else ''} to {output}")
    else:
        click.echo(text, nl=False)


def _print_plan(plan: TrainPlan, tracking: Tracking, *, as_json: bool) -> None:
    planned = [{"params": params, "argv": plan.argv(params)} for params in plan.runs]
    if as_json:
        body = {
            "project": plan.config.name,
            "experiment": plan.config.name,
            "tracking_uri": tracking.shown,
            "tags": plan.tags,
            "runs": planned,
        }
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"{len(planned)} run{'s' if len(planned) != 1 else ''} planned in experiment "
               f"{plan.config.name}:")  # fmt: skip
    for index, run in enumerate(planned, 1):
        click.echo(f"  {index}. {shlex.join(run['argv'])}")


def _run(plan: TrainPlan, tracking: Tracking, *, as_json: bool) -> int:
    from pipeline.errors import EXIT_INTERRUPTED, EXIT_STEP_FAILED
    from pipeline.online.train import RunResult, run_grid

    total = len(plan.runs)

    def report(index: int, result: RunResult) -> None:
        if not as_json:
            click.echo(f"run {index}/{total}: {result.line()}")

    results = run_grid(
        plan,
        tracking,
        os.environ,
        out=sys.stderr if as_json else sys.stdout,
        err=sys.stderr,
        report=report,
    )
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        experiment = results[0].experiment_id if results else "?"
        click.echo(
            f"{len(results)} of {total} runs in experiment {plan.config.name} "
            f"(id {experiment}) at {tracking.shown}: {summary}"
        )
        finished = [r for r in results if r.status == "FINISHED"]
        if finished:
            model = shlex.quote(plan.config.model.name)
            click.echo(f"Next: somlier online register {finished[0].run_id} {model}", err=True)
    if any(r.status == "KILLED" for r in results):
        return EXIT_INTERRUPTED
    return EXIT_STEP_FAILED if any(r.status != "FINISHED" for r in results) else 0


@click.command()
@click.argument("run_id")
@click.argument("model_name")
@click.option(
    "--alias",
    metavar="NAME",
    help="Point this alias (e.g. champion) of the registered model at the new version.",
)
@click.option(
    "--model",
    metavar="NAME",
    help="Which of the run's models, when it logged several [default: its only one].",
)
@json_option
@repo_option
def register(
    run_id: str,
    model_name: str,
    alias: str | None,
    model: str | None,
    as_json: bool,
    repo: Path | None,
) -> None:
    """Register the model logged by run RUN_ID as a new version of MODEL_NAME.

    Finds MLflow 3 logged models and classic runs:/RUN_ID/PATH model folders. Prints
    `model version: N`. Exit 2 for an unknown run or a run without a model.
    """
    from pipeline.online.registry import register as register_model

    base = repo or Path()
    tracking = _tracking(base, settings_at(base)[0])
    done = register_model(run_id, model_name, tracking=tracking, alias=alias, model=model)
    if as_json:
        click.echo(json.dumps({**done.to_json(), "tracking_uri": tracking.shown}, indent=2))
        return
    click.echo(f"registered {done.source} as {done.model_name}", err=True)
    if done.alias:
        click.echo(f"alias {done.alias} -> version {done.version}", err=True)
    click.echo(f"model version: {done.version}")
    name = shlex.quote(done.model_name)
    click.echo(
        f"Next: somlier online deploy {name} {done.version} --once   # try it locally", err=True
    )
