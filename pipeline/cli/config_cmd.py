"""``somlier config show`` and ``somlier config run``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from pipeline.cli.lazy import Group
from pipeline.cli.options import json_option
from pipeline.config.model import ProjectConfig
from pipeline.config.project import load_project

BANNER = r"""
   _____       __  _____    _
  / ___/____  /  |/  / /   (_)__  _____
  \__ \/ __ \/ /|_/ / /   / / _ \/ ___/
 ___/ / /_/ / /  / / /___/ /  __/ /
/____/\____/_/  /_/_____/_/\___/_/
"""

FILE_OPTION = click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The somlier.yaml [default: the nearest one in this folder or its parents].",
)


def _load(file: Path | None) -> ProjectConfig:
    from pipeline.runner import project_file

    path = project_file(Path.cwd(), file)
    return load_project(path, os.environ)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name.rstrip("_"): _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("internal")
        }
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _listed(items: Iterable[str], separator: str = ", ") -> str:
    """Several values as a person writes them (``a, b``); none as ``-``."""
    return separator.join(items) or "-"


@click.group(cls=Group)
def config() -> None:
    """Show a project's settings or run one of its entrypoints."""


@config.command()
@FILE_OPTION
@click.option("-d", "--dependencies", is_flag=True, help="List the requirements file's packages.")
@json_option
def show(file: Path | None, dependencies: bool, as_json: bool) -> None:
    """Show the project's settings (or, with -d, its dependencies)."""
    project = _load(file)
    deps = None
    if dependencies:
        from pipeline.config import requirements

        deps = requirements.read(project.requirements_path, root=project.root)
    if as_json:
        body = _plain(project)
        body["entrypoints"] = {
            name: {"command": list(e.command), "args": list(e.args)}
            for name, e in project.entrypoints.items()
        }
        if deps is not None:
            body["dependencies"] = [_plain(d) for d in deps]
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    if sys.stdout.isatty():
        click.echo(BANNER)
    if deps is not None:
        click.echo("-------- dependencies --------")
        for dep in deps:
            click.echo(dep.text)
        click.echo("------------------------------")
        return
    p, m = project.project, project.model
    assets = [f"{a.provider}: {', '.join(f.name for f in a.files)}" for a in m.assets]
    images = [f"{p.docker.name}:{tag}" for tag in p.docker.tags] or [p.docker.name]
    lines = [
        f"SoMLier YAML: [{project.path}]",
        f"Project Name: {p.name}",
        f"Model Name: {m.name}",
        f"Model Version: {m.version}",
        f"Model Tag: {_listed(m.tags)}",
        f"Model Assets: {_listed(assets, '; ')}",
        f"Python Version: {p.python.version}",
        f"Docker Image Name: {_listed(images)}",
        f"Entrypoints: {_listed(project.entrypoints)}",
    ]
    if p.depends_on:
        lines.append(f"Depends On: {', '.join(p.depends_on)}")
    for job in project.offline:
        target = job.entrypoint or job.command
        lines.append(f"Offline Job: {job.dag_id} [{job.schedule}] -> {target}")
    click.echo("\n".join(lines))


@config.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@FILE_OPTION
def run(name: str, args: tuple[str, ...], file: Path | None) -> int:
    """Run entrypoint NAME in the project folder; ARGS after -- go to it.

    Each output line is printed as {"name","stdout","timestamp"} JSON (stderr lines as "stderr",
    on stderr), or as text when global.logging.format is text. Standard input is passed through,
    SIGTERM (and SIGINT when not in a terminal) is forwarded, and the exit code is the child's.
    """
    from pipeline import runner
    from pipeline.cli.wiring.mlflow_store import local_run_environment

    if args[:1] == ("--",):
        args = args[1:]
    project = _load(file)
    argv = runner.argv_for(project, name, args)
    click.echo(f"Entrypoint: [{name}]", err=True)
    click.echo(f"Executing {argv}...", err=True)
    # The monorepo's MLflow store (and the project's experiment) unless the caller chose one.
    env = {
        **runner.environment_for(os.environ),
        **local_run_environment(project.root, project.name),
    }
    return runner.run_entrypoint(project, name, args, env, fmt=project.global_.logging.format)
