"""Which DAG files a set of projects makes, and where they go (rendering, no writing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.refs import ImageName
from pipeline.config.model import ProjectConfig
from pipeline.config.settings import PlatformSettings
from pipeline.errors import UserError
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
    planned, errors = [], []
    for index in range(len(config.offline)):
        try:
            spec = from_project(
                config, index, settings, image=image, shown_path=source_path, commit=commit
            )
        except SpecError as exc:
            errors.append(JobError(config, index, exc))
            continue
        path = output_dir / config.name / f"{spec.dag_id}.py"
        planned.append(PlannedDag(spec, path, render_dag(spec)))
    return planned, errors


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
