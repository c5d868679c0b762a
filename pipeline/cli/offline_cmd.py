"""``somlier offline create`` and ``somlier offline render``: Airflow DAG files for batch jobs.

The edge: it reads the environment and the files, hands plain values to
:mod:`pipeline.offline`, and writes what comes back."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.dags_cmd import init as dags_init
from pipeline.cli.lazy import Group
from pipeline.cli.options import gpu_options, json_option, repo_option
from pipeline.cli.wiring import settings_at, settings_for
from pipeline.errors import EXIT_OK, ConfigError, UserError
from pipeline.offline.spec import TEMPLATES

if TYPE_CHECKING:
    from pipeline.config.model import ProjectConfig
    from pipeline.config.settings import PlatformSettings
    from pipeline.offline.plan import PlannedDag

OUTPUT_DIR_HELP = "Folder the DAG files go to"
DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Print the DAG files instead of writing them."
)
OPEN_PR = click.option(
    "--open-pr",
    is_flag=True,
    help="Also open or update one PR per project in the dags repository (github.dags_repo); "
    "with --dry-run, show what it would carry.",
)
JSON = json_option
REPO = repo_option


@click.group(cls=Group)
def offline() -> None:
    """Airflow DAGs for the batch jobs of ML projects."""


@offline.command()
@click.argument("image")
@click.argument("schedule")
@click.argument("command")
@click.argument("dag_id")
@click.argument(
    "template",
    required=False,
    default="default",
    metavar="[TEMPLATE]",
    type=click.Choice(TEMPLATES),
)
@gpu_options("GPU type, e.g. nvidia-tesla-t4.", "GPUs for the pod [default: 1 with --gpu_type].")
@click.option(
    "--project-name",
    metavar="NAME",
    help="The project the job belongs to (names its pods and, for mlops, its MLflow model) "
    "[default: the image's name without the platform's registry.image_prefix].",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    metavar="DIR",
    help=f"{OUTPUT_DIR_HELP}.",
)
@click.option("--force", is_flag=True, help="Overwrite DAG_ID.py when it holds another DAG.")
@DRY_RUN
@OPEN_PR
@JSON
@REPO
def create(
    image: str,
    schedule: str,
    command: str,
    dag_id: str,
    template: str,
    gpu_type: str | None,
    num_of_gpus: int | None,
    project_name: str | None,
    output_dir: Path,
    force: bool,
    dry_run: bool,
    open_pr: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Write DIR/DAG_ID.py: a DAG running COMMAND in IMAGE on SCHEDULE.

    SCHEDULE is a five-field cron expression ("0 9 * * *"), an Airflow preset (@daily,
    @weekly, @once, …) or None. COMMAND is split like a shell would and run as
    `somlier config COMMAND` in the image: "run main" runs the project's entrypoint main.
    TEMPLATE is default or mlops (MLflow and a Slack alert). Owner, tags, time zone,
    namespace and the GPU types' node labels come from the platform settings. An existing
    DAG_ID.py holding another DAG is kept unless --force is given. Exit 2 on a bad dag_id,
    schedule, command, GPU type or image.
    """
    from pipeline.offline import plan, spec

    base = repo or Path()  # relative paths stay relative in what is printed
    settings, _ = settings_at(base)
    built = spec.from_create(
        image=image,
        schedule=schedule,
        command=command,
        dag_id=dag_id,
        template=template,
        settings=settings,
        gpu_type=gpu_type,
        num_of_gpus=num_of_gpus,
        project_name=project_name,
    )
    made = plan.plan_one(built, base / output_dir)
    if not force:
        _refuse_overwrite(made)
    results = _emit([made], dry_run=dry_run, as_json=as_json, pull_requests=open_pr)
    if open_pr:
        from pipeline.monorepo.discovery import repo_root

        _open_prs(
            {built.project_name: {built.dag_id: made.source}},
            repo_root(base.resolve()),
            settings,
            prune=False,
            dry_run=dry_run,
            as_json=as_json,
            dags=results,
        )
    elif not (as_json or dry_run):
        _say_next(made)
    return EXIT_OK


def _say_next(made: PlannedDag) -> None:
    folder = shlex.quote(str(made.path.parent))
    click.echo(
        f"Next: somlier dags check {folder}   # imports it in a real Airflow, as CI will\n"
        "  then open a PR in the dags repository (or run again with --open-pr)",
        err=True,
    )


@offline.command()
@click.option(
    "-p",
    "--project",
    "projects",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="A project folder or somlier.yaml; repeatable [default: every project of the "
    "repository around the current folder].",
)
@click.option(
    "--changed",
    "changed_since",
    metavar="REF",
    help="Only the projects changed since the merge base with REF (as `pipeline changed`); "
    "with --open-pr, deleted projects lose their DAGs.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dags"),
    show_default=True,
    metavar="DIR",
    help=f"{OUTPUT_DIR_HELP}: DIR/PROJECT/DAG_ID.py.",
)
@click.option("--tag", metavar="TAG", help="Image tag [default: the project's first docker tag].")
@click.option("--commit", metavar="SHA", help="The source commit, named in each file's header.")
@DRY_RUN
@OPEN_PR
@JSON
@REPO
def render(
    projects: tuple[Path, ...],
    output_dir: Path,
    tag: str | None,
    commit: str | None,
    changed_since: str | None,
    dry_run: bool,
    open_pr: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Write the DAGs of the offline: jobs of somlier.yaml files.

    Each job becomes DIR/PROJECT/DAG_ID.py; its image is the project's image in the platform's
    registry. Every job is checked before anything is written; exit 2 with every problem
    (file:line:col) otherwise.
    """
    from pipeline.monorepo import discovery
    from pipeline.offline import plan

    cwd = repo or Path()
    selected = _selected(projects, changed_since, cwd)
    if selected is None:
        return EXIT_OK
    files, gone = selected
    configs, shown, settings_of = _load(files, cwd)
    planned = plan.plan_dags(
        configs,
        lambda config: settings_of[config.path],
        output_dir=cwd / output_dir,
        tag=tag,
        commit=commit,
    )
    problems = [
        plan.located(error, where)
        for project, where in zip(planned.projects, shown, strict=True)
        for error in project.errors
    ]
    if problems:
        raise ConfigError(problems)
    plan.check_unique(planned.dags)
    if not planned.dags and not as_json:
        click.echo(f"no offline: jobs in {len(files)} somlier.yaml file(s)", err=True)
    results = _emit(planned.dags, dry_run=dry_run, as_json=as_json, pull_requests=open_pr)
    if open_pr:
        # Only after every job checked out: a partial set would delete a failing job's DAG.
        _open_prs(
            {name: {} for name in gone} | planned.files_by_project(),
            discovery.repo_root(cwd.resolve()),
            next(iter(settings_of.values()), None) or settings_at(cwd)[0],
            prune=True,
            dry_run=dry_run,
            as_json=as_json,
            dags=results,
            commit=commit,
        )
    return EXIT_OK


def _selected(
    projects: tuple[Path, ...], changed_since: str | None, cwd: Path
) -> tuple[list[Path], list[str]] | None:
    """The somlier.yaml files ``render`` renders and the deleted projects whose DAGs go; None
    when ``--changed`` found nothing changed (said on stderr)."""
    from pipeline.monorepo import discovery

    gone: list[str] = []
    if changed_since is not None:
        if projects:
            raise click.UsageError("--project and --changed: pick one")
        from pipeline.monorepo.detect import detect

        found = detect(cwd.resolve(), changed_since, "HEAD", os.environ)
        top = discovery.repo_root(cwd.resolve()) or cwd.resolve()
        files = [
            top / p.path / "somlier.yaml" if p.path != "." else top / "somlier.yaml"
            for p in found.projects
        ]
        gone = [d.name for d in found.deleted]
        if not files and not gone:
            click.echo(f"no project changed since {changed_since}", err=True)
            return None
    else:
        files = (
            discovery.expand([cwd / p for p in projects])
            if projects
            else discovery.default_projects(cwd)
        )
    if not files and not gone:
        where = ", ".join(map(str, projects)) or str(cwd.resolve())
        raise UserError(f"no somlier.yaml found in {where}", hint="pass --project DIR")
    return files, gone


def _load(
    files: Sequence[Path], cwd: Path
) -> tuple[list[ProjectConfig], list[str], dict[Path, PlatformSettings]]:
    """Each file's project, as its path is shown, and the settings of the monorepo around it
    (read once per monorepo), in the order given."""
    from pipeline.config import location
    from pipeline.config.project import load_project
    from pipeline.config.validation import shown_path

    configs: list[ProjectConfig] = []
    shown: list[str] = []
    settings_of: dict[Path, PlatformSettings] = {}
    by_root: dict[Path | None, PlatformSettings] = {}
    for path in files:
        shown.append(shown_path(path, cwd))
        config = load_project(path, os.environ, shown[-1])
        root = location.platform_root(path.resolve().parent)
        if root not in by_root:
            by_root[root] = settings_for(root)
        configs.append(config)
        settings_of[config.path] = by_root[root]
    return configs, shown, settings_of


def _refuse_overwrite(dag: PlannedDag) -> None:
    from pipeline.offline.write import Outcome, outcome_of

    if outcome_of(dag.path, dag.source) is Outcome.UPDATED:
        raise UserError(
            f"{dag.path} already exists and holds another DAG",
            hint="pass --force to overwrite it, or choose another DAG_ID or --output-dir",
        )


def _open_prs(
    groups: dict[str, dict[str, str]],
    root: Path | None,
    settings: PlatformSettings,
    *,
    prune: bool,
    dry_run: bool,
    as_json: bool,
    dags: list[dict[str, Any]],
    commit: str | None = None,
) -> None:
    from pipeline.cli.wiring.dags_repo import publish

    if root is None:
        raise UserError("--open-pr names the source commit: run inside the monorepo's git checkout")
    results = publish(
        groups,
        root=root,
        settings=settings,
        environ=os.environ,
        prune=prune,
        dry_run=dry_run,
        commit=commit,
    )
    if as_json:
        body = {"dry_run": dry_run, "dags": dags, "pull_requests": [r.to_json() for r in results]}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for result in results:
        click.echo(result.summary())


def _emit(
    planned: Sequence[PlannedDag], *, dry_run: bool, as_json: bool, pull_requests: bool = False
) -> list[dict[str, Any]]:
    """Write (or show) ``planned``; print what happened. With ``pull_requests`` the JSON object
    is left to the caller, who adds the publishing results to it."""
    from pipeline.offline.write import Outcome, outcome_of, write_atomic

    results: list[dict[str, Any]] = []
    for dag in planned:
        outcome = (
            outcome_of(dag.path, dag.source) if dry_run else write_atomic(dag.path, dag.source)
        )
        entry: dict[str, Any] = {
            "dag_id": dag.spec.dag_id,
            "project": dag.spec.project_name,
            "template": dag.spec.template,
            "schedule": dag.spec.schedule,
            "image": dag.spec.image,
            "path": str(dag.path),
            "outcome": outcome.value,
            "written": not dry_run and outcome is not Outcome.UNCHANGED,
        }
        if dry_run:
            entry["source"] = dag.source
        results.append(entry)
        if as_json:
            continue
        if dry_run:
            if len(planned) > 1:
                click.echo(f"==> {dag.path} <==")
            click.echo(dag.source, nl=False)
            click.echo(f"would write {dag.path} ({outcome.value})", err=True)
        elif outcome is Outcome.UNCHANGED:
            click.echo(f"unchanged {dag.path}")
        else:
            click.echo(f"wrote {dag.path}")
    if as_json and not pull_requests:
        click.echo(json.dumps({"dry_run": dry_run, "dags": results}, indent=2, ensure_ascii=False))
    return results


# The original tool's name for `somlier dags init`: the same command object, so its options,
# help and output cannot drift apart.
offline.add_command(dags_init, "init-dags-repo")
