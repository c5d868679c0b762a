"""``somlier dags check`` and ``somlier dags init``: the mlops-dags repository's side."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from pipeline.cli.lazy import Group
from pipeline.cli.options import json_option
from pipeline.errors import EXIT_OK, EXIT_USER_ERROR


@click.group(cls=Group)
def dags() -> None:
    """Check the DAG files of an mlops-dags repository with a real Airflow, or set one up."""


@dags.command()
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(path_type=Path, file_okay=False),
)
@json_option
@click.option(
    "--airflow-python",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="SOMLIER_AIRFLOW_PYTHON",
    help="The python of an Airflow install [env SOMLIER_AIRFLOW_PYTHON; default: "
    ".venv-airflow/bin/python here, or in the somlier checkout].",
)
def check(directory: Path, as_json: bool, airflow_python: Path | None) -> int:
    """Import every DAG file under DIRECTORY (default: here) in a real Airflow DagBag.

    DIRECTORY is an mlops-dags checkout (DAG files under dags/, the operators package at its
    root) or a folder of DAG files. Reported, one line each: import errors (file and line),
    dag_ids defined twice, images tagged latest or untagged (warnings), and, from the pod each
    MLOpsOfflineOperator task would create (built offline, no cluster), GPU limits that do not
    match num_of_gpus and GPU jobs without a node selector. Airflow runs from its own
    virtualenv (.ci/airflow.sh), with no database. Exit 0, or 2 when there is any error.
    """
    from pipeline.dags import runtime
    from pipeline.dags.check import check_dags

    python = runtime.find_python(airflow_python, Path.cwd())
    result = check_dags(directory, python, os.environ)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.lines():
            click.echo(line)
        click.echo(result.summary(), err=True)
    return EXIT_OK if result.ok else EXIT_USER_ERROR


@dags.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
def init(directory: Path, dry_run: bool) -> int:
    """Copy the operators package somlier's DAGs import into DIRECTORY/operators/.

    Run it in the mlops-dags checkout; again after upgrading somlier, to update the operator.
    Other files in operators/ are left alone. `somlier offline init-dags-repo` is the same
    command (the original tool's name).
    """
    from pipeline.dags.repo import init_dags_repo

    for written in init_dags_repo(directory, dry_run=dry_run):
        would = "would be " if dry_run and written.status != "unchanged" else ""
        click.echo(f"{written.path}: {would}{written.status}")
    return EXIT_OK
