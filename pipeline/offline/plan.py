"""Which DAG files a set of projects makes, and where they go (rendering, no writing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.refs import ImageName
from pipeline.config.model import ProjectConfig
from pipeline.config.project import locate_key
from pipeline.config.settings import PlatformSettings
from pipeline.errors import Diagnostic, UserError
from pipeline.offline.dag import render_dag
from pipeline.offline.spec import DagSpec, from_project
from pipeline.offline.values import SpecError, check_image


@dataclass(frozen=True)
class PlannedDag:
    spec: DagSpec
    path: Path  # where the file goes: DIR/DAG_ID.py, or DIR/PROJECT/DAG_ID.py for a project
    source: str  # the rendered, checked file


@dataclass(frozen=True)
class JobError:
    """A job whose DAG cannot be made: ``config.offline[index]``, and why."""

    config: ProjectConfig
    index: int
    error: SpecError


def image_for(config: ProjectConfig, settings: PlatformSettings, tag: str | None = None) -> str:
    """The image a project's jobs run: the registry, ``registry.image_prefix`` and
    ``project.docker.name``, tagged ``tag`` or the project's first docker tag."""
    name = ImageName.parse(
        settings.registry.url, settings.registry.image_prefix + config.project.docker.name
    )
    return check_image(name.ref(tag or (config.project.docker.tags or ("latest",))[0]))


def header_path(path: Path) -> str:
    """A somlier.yaml as a DAG's header names it: relative to the top of its repository (the
    nearest folder up with ``.git`` or ``.somlier/platform.yaml``, found without git), so the
    same file renders the same wherever somlier runs."""
    resolved = path.resolve()
    for folder in resolved.parents:
        if (folder / ".git").exists() or (folder / ".somlier" / "platform.yaml").is_file():
            return resolved.relative_to(folder).as_posix()
    return resolved.name


def _specs(
    config: ProjectConfig,
    settings: PlatformSettings,
    *,
    image: str,
    source_path: str | None = None,
    commit: str | None = None,
) -> tuple[list[DagSpec], list[JobError]]:
    specs, errors = [], []
    for index in range(len(config.offline)):
        try:
            specs.append(
                from_project(
                    config, index, settings, image=image, shown_path=source_path, commit=commit
                )
            )
        except SpecError as exc:
            errors.append(JobError(config, index, exc))
    return specs, errors


def plan_project(
    config: ProjectConfig,
    settings: PlatformSettings,
    output_dir: Path,
    *,
    source_path: str,
    image: str,
    commit: str | None = None,
) -> tuple[list[PlannedDag], list[JobError]]:
    """Render every ``offline:`` job of ``config`` into ``output_dir/<project>/<dag_id>.py``.
    ``source_path`` names the somlier.yaml in each file's header (keep it independent of the
    current folder, so renders are reproducible)."""
    specs, errors = _specs(config, settings, image=image, source_path=source_path, commit=commit)
    planned = [
        PlannedDag(spec, output_dir / config.name / f"{spec.dag_id}.py", render_dag(spec))
        for spec in specs
    ]
    return planned, errors


def check_jobs(config: ProjectConfig, settings: PlatformSettings, shown: str) -> list[Diagnostic]:
    """Every check ``offline render`` applies to the jobs of ``config`` (the same code, without
    rendering), as diagnostics of its somlier.yaml (``shown``): what ``somlier validate`` adds."""
    if not config.offline:
        return []
    try:
        image = image_for(config, settings)
    except SpecError as exc:
        line, col = locate_key(config.path, shown, ("project", "docker", "name"))
        return [Diagnostic(shown, line, col, exc.message, exc.hint, "project.docker.name")]
    return [located(error, shown) for error in _specs(config, settings, image=image)[1]]


def located(job: JobError, shown: str) -> Diagnostic:
    """``job``'s error at the line of its somlier.yaml that holds the value at fault; a value
    read from the environment is shown as its ``${VAR}``, never as the value."""
    from pipeline.config.interpolate import scrub

    key_path: tuple[str | int, ...] = ("offline", job.index, *job.error.field.split("."))
    line, col = locate_key(job.config.path, shown, key_path)
    return Diagnostic(
        shown,
        line,
        col,
        scrub(job.config.from_env, key_path, f"offline[{job.index}]: {job.error.message}"),
        scrub(job.config.from_env, key_path, job.error.hint),
        key_path=".".join(map(str, key_path)),
    )


def plan_one(spec: DagSpec, output_dir: Path) -> PlannedDag:
    """``somlier offline create``: ``output_dir/<dag_id>.py``."""
    return PlannedDag(spec, output_dir / f"{spec.dag_id}.py", render_dag(spec))


def check_unique(planned: Sequence[PlannedDag]) -> None:
    """Airflow keeps one DAG per dag_id: refuse two jobs that claim the same one."""
    seen: dict[str, PlannedDag] = {}
    for dag in planned:
        first = seen.setdefault(dag.spec.dag_id, dag)
        if first is not dag:
            raise UserError(
                f"dag_id {dag.spec.dag_id!r} is used by {first.spec.source.path} and "
                f"{dag.spec.source.path}",
                hint="dag_ids are unique across the monorepo: rename one of the jobs",
            )
