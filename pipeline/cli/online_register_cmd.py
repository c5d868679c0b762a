"""``somlier online register``: a training run's model into the MLflow model registry. The
edge reads the environment and settings (where the store is) and hands plain values to
:mod:`pipeline.online.register` (MLflow is imported only there)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from pipeline.cli.options import json_option, repo_option
from pipeline.cli.wiring import settings_at


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
    from pipeline.cli.wiring.mlflow_store import tracking as wiring_tracking
    from pipeline.online.register import register as register_model

    base = repo or Path()
    tracking = wiring_tracking(base, settings_at(base)[0])
    done = register_model(run_id, model_name, tracking=tracking, alias=alias, model=model)
    if as_json:
        click.echo(json.dumps(done.to_json(), indent=2))
        return
    click.echo(f"registered {done.source} as {done.model_name}", err=True)
    if done.alias:
        click.echo(f"alias {done.alias} -> version {done.version}", err=True)
    click.echo(f"model version: {done.version}")
    name = shlex.quote(done.model_name)
    click.echo(
        f"Next: somlier online deploy {name} {done.version} --once   # try it locally", err=True
    )
