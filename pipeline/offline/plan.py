"""Which DAG files a set of projects makes, and where they go (rendering, no writing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.model import ProjectConfig
from pipeline.config.project import locate_key
from pipeline.config.settings import PlatformSettings
from pipeline.errors import Diagnostic, UserError
from pipeline.images.refs import ImageName
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


def commit_tag(sha: str) -> str:
    """The image tag the pipeline gives a commit's build (``sha-<first 7>``): what the DAGs
    published after a merge or a /dag comment run."""
    return f"sha-{sha[:7]}"


@dataclass(frozen=True)
class ProjectDags:
    """The DAGs of one project's ``offline:`` jobs, and the jobs that cannot make one."""

    config: ProjectConfig
    dags: tuple[PlannedDag, ...]
    errors: tuple[JobError, ...]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def files(self) -> dict[str, str]:
        """``{dag_id: source}``: the project's full set of DAG files (what a publish carries)."""
        return {dag.spec.dag_id: dag.source for dag in self.dags}

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.name,
            "somlier_yaml": str(self.config.path),
            "dags": [
                {
                    "dag_id": dag.spec.dag_id,
                    "template": dag.spec.template,
                    "schedule": dag.spec.schedule,
                    "image": dag.spec.image,
                    "path": str(dag.path),
                }
                for dag in self.dags
            ],
            "errors": [
                {
                    "index": error.index,
                    "field": error.error.field,
                    "message": error.error.message,
                    "hint": error.error.hint,
                }
                for error in self.errors
            ],
        }


@dataclass(frozen=True)
class DagPlan:
    """What :func:`plan_dags` made: one entry per project, in the order given."""

    projects: tuple[ProjectDags, ...]

    @property
    def dags(self) -> tuple[PlannedDag, ...]:
        return tuple(dag for project in self.projects for dag in project.dags)

    @property
    def errors(self) -> tuple[JobError, ...]:
        return tuple(error for project in self.projects for error in project.errors)

    @property
    def ok(self) -> bool:
        return not self.errors

    def files_by_project(self) -> dict[str, dict[str, str]]:
        """``{project: {dag_id: source}}``, every project's full set of DAG files (empty for a
        project without jobs: publishing it removes its DAGs)."""
        out: dict[str, dict[str, str]] = {}
        for project in self.projects:
            out.setdefault(project.name, {}).update(project.files)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "projects": [project.to_json() for project in self.projects]}


SettingsFor = Callable[[ProjectConfig], PlatformSettings]


def plan_dags(
    configs: Iterable[ProjectConfig],
    settings: PlatformSettings | SettingsFor,
    *,
    output_dir: Path,
    tag: str | None = None,
    commit: str | None = None,
) -> DagPlan:
    """Render every ``offline:`` job of each of ``configs`` into
    ``output_dir/<project>/<dag_id>.py`` (nothing is written). ``settings``: the platform
    settings, or a function giving each project's. Image tag policy: ``tag`` for every project
    (:func:`commit_tag` after a build), else each project's first docker tag. A job that cannot
    make a DAG is an error of its project; the others are still planned. Each file's header
    names its somlier.yaml from the repository top (:func:`header_path`) and ``commit``."""
    projects = []
    for config in configs:
        project_settings = settings if isinstance(settings, PlatformSettings) else settings(config)
        specs, errors = _specs(
            config,
            project_settings,
            image=image_for(config, project_settings, tag),
            source_path=header_path(config.path),
            commit=commit,
        )
        planned = tuple(
            PlannedDag(spec, output_dir / config.name / f"{spec.dag_id}.py", render_dag(spec))
            for spec in specs
        )
        projects.append(ProjectDags(config, planned, tuple(errors)))
    return DagPlan(tuple(projects))


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
