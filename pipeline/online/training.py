"""``somlier online train`` as one call: check out the monorepo at a ref, plan the ``--param``
grid for a project, then run it here with MLflow tracking, print it (a dry run), or render one
Kubernetes Job per run. :func:`train` takes plain values and returns what was done as a frozen
result; the CLI only parses, calls and prints (MLflow is imported only when runs start).
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pipeline.errors import EXIT_INTERRUPTED, EXIT_STEP_FAILED, UserError
from pipeline.online.train import Grid, RunResult, TrainPlan

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.tracking import Tracking
    from pipeline.online.train_job import JobOptions, RenderedJob


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def job_options(
    k8s: bool,
    *,
    image_tag: str | None = None,
    cpu: str | None = None,
    memory: str | None = None,
    gpu_type: str | None = None,
    num_of_gpus: int | None = None,
    output: Path | None = None,
) -> JobOptions | None:
    """The Jobs' options with ``--k8s`` (None without it); options that only mean something for
    Kubernetes Jobs are refused without ``--k8s``."""
    from pipeline.online.train_job import JobOptions

    only = {"--image-tag": image_tag, "--cpu": cpu, "--memory": memory, "--gpu_type": gpu_type,
            "--num_of_gpus": num_of_gpus, "--output": output}  # fmt: skip
    stray = [name for name, value in only.items() if value is not None]
    if stray and not k8s:
        raise UserError(f"{', '.join(stray)} only apply with --k8s")
    if not k8s:
        return None
    return JobOptions(
        image_tag=image_tag, cpu=cpu, memory=memory, gpu_type=gpu_type, num_of_gpus=num_of_gpus
    )


def source_for(base: Path, github_uri: str | None) -> str:
    """The monorepo to check out: ``github_uri``, else the git repository around ``base``."""
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


@dataclass(frozen=True, kw_only=True)
class TrainRequest:
    """What to train: ``project`` (a folder of the monorepo, or its name) at ``ref`` of
    ``source``; ``jobs``: render Kubernetes Jobs with these options instead of running;
    ``output``: where the Jobs' YAML goes (not written on a dry run)."""

    project: str
    ref: str
    source: str
    entrypoint: str = "train"
    grid: Grid = ()
    jobs: JobOptions | None = None
    output: Path | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class TrainStart:
    """The checked-out project, announced before anything runs."""

    project: str
    ref: str
    commit: str
    source: str
    tracking_uri: str  # redacted
    runs: int

    def line(self) -> str:
        return (
            f"project {self.project} at {self.ref} ({self.commit[:12]}) from {self.source}; "
            f"tracking {self.tracking_uri}"
        )


@dataclass(frozen=True)
class TrainJobs:
    """``--k8s``: the Jobs, their YAML, and the file it was written to (None: not written)."""

    jobs: tuple[RenderedJob, ...]
    yaml: str
    output: Path | None

    def to_json(self) -> dict[str, Any]:
        return {
            "jobs": [j.to_json() for j in self.jobs],
            "output": str(self.output) if self.output is not None else None,
            "yaml": self.yaml,
        }

    exit_code = 0

    def text(self) -> str:
        """Standard output: the YAML, or where it was written."""
        if self.output is None:
            return self.yaml
        return f"wrote {_plural(len(self.jobs), 'Job')} to {self.output}\n"


@dataclass(frozen=True)
class PlannedRun:
    params: dict[str, str]
    argv: tuple[str, ...]


@dataclass(frozen=True)
class TrainPlanned:
    """A dry run: the runs that would start, with their command lines and tags."""

    project: str
    tracking_uri: str  # redacted
    tags: dict[str, str]
    runs: tuple[PlannedRun, ...]

    exit_code = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "experiment": self.project,
            "tracking_uri": self.tracking_uri,
            "tags": self.tags,
            "runs": [{"params": r.params, "argv": list(r.argv)} for r in self.runs],
        }

    def lines(self) -> list[str]:
        head = f"{_plural(len(self.runs), 'run')} planned in experiment {self.project}:"
        return [head] + [f"  {i}. {shlex.join(r.argv)}" for i, r in enumerate(self.runs, 1)]


@dataclass(frozen=True)
class TrainRuns:
    """The runs that ran (a grid stops early only when interrupted), in the experiment named
    after the project."""

    project: str
    model_name: str  # the project's registered model name (somlier.yaml model.name)
    tracking_uri: str  # redacted
    planned: int
    results: tuple[RunResult, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.results]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        shown = ", ".join(f"{n} {status}" for status, n in counts.items())
        experiment = self.results[0].experiment_id if self.results else "?"
        return (
            f"{len(self.results)} of {self.planned} runs in experiment {self.project} "
            f"(id {experiment}) at {self.tracking_uri}: {shown}"
        )

    @property
    def registrable(self) -> str | None:
        """The first finished run: what ``online register`` takes next (None: none finished)."""
        return next((r.run_id for r in self.results if r.status == "FINISHED"), None)

    @property
    def exit_code(self) -> int:
        if any(r.status == "KILLED" for r in self.results):
            return EXIT_INTERRUPTED
        return EXIT_STEP_FAILED if any(r.status != "FINISHED" for r in self.results) else 0


Trained = TrainJobs | TrainPlanned | TrainRuns


def train(
    request: TrainRequest,
    *,
    settings: PlatformSettings,
    tracking: Tracking,
    environ: Mapping[str, str],
    out: IO[str],
    err: IO[str],
    on_start: Callable[[TrainStart], None],
    on_run: Callable[[int, int, RunResult], None],
) -> Trained:
    """Check ``request.source`` out at ``request.ref`` into a temporary folder (removed after),
    then render Jobs, plan (a dry run) or run the grid. ``on_start`` is called once the project
    is found, ``on_run`` after each run (1-based index, number planned, result); the entrypoint's
    output goes to ``out`` and ``err``. ``environ`` is the process environment (the CLI's)."""
    from pipeline.online import train as core
    from pipeline.online.checkout import checkout

    with tempfile.TemporaryDirectory(prefix="somlier-train-") as tmp:
        tree = checkout(request.source, request.ref, Path(tmp) / "repo", environ)
        plan = core.prepare(tree, request.project, request.entrypoint, request.grid, environ)
        on_start(
            TrainStart(
                plan.config.name, tree.ref, tree.commit, tree.source, tracking.shown, len(plan.runs)
            )
        )
        if request.jobs is not None:
            return _jobs(request, plan, tree.commit, settings, tracking, request.jobs)
        if request.dry_run:
            runs = tuple(PlannedRun(params, tuple(plan.argv(params))) for params in plan.runs)
            return TrainPlanned(plan.config.name, tracking.shown, plan.tags, runs)
        results = core.run_grid(
            plan,
            tracking,
            environ,
            out=out,
            err=err,
            report=lambda index, result: on_run(index, len(plan.runs), result),
        )
        return TrainRuns(
            plan.config.name, plan.config.model.name, tracking.shown, len(plan.runs), tuple(results)
        )


def _jobs(
    request: TrainRequest,
    plan: TrainPlan,
    commit: str,
    settings: PlatformSettings,
    tracking: Tracking,
    options: JobOptions,
) -> TrainJobs:
    from pipeline.online import train_job

    jobs = train_job.render_jobs(
        plan, commit=commit, settings=settings, tracking=tracking, options=options
    )
    text = train_job.to_yaml(jobs)
    output = None if request.dry_run else request.output
    if output is not None:
        output.write_text(text, encoding="utf-8")
    return TrainJobs(tuple(jobs), text, output)
