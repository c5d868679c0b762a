"""Training runs: the ``--param`` grid, the project inside the checkout, and one child process
per grid point running the project's entrypoint with MLflow tracking.

The child starts its own MLflow runs (see pipeline.online.train_runs): a script that sets its
own experiment or starts its own run trains under ``online train`` as it does by hand, and every
run it starts is tagged with the commit, the ref and the project. A child that starts none still
leaves one run, tagged, with its params and the status of its exit code.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from pipeline.config.model import ProjectConfig
from pipeline.errors import StepFailed, UserError
from pipeline.online.checkout import Checkout
from pipeline.online.tracking import Tracking

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,249}$")

Grid = tuple[tuple[str, tuple[str, ...]], ...]


def parse_params(items: Sequence[str]) -> Grid:
    """``["lr=0.1,0.01", "depth=3"]`` → ``(("lr", ("0.1", "0.01")), ("depth", ("3",)))``."""
    grid: dict[str, tuple[str, ...]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise UserError(
                f"--param {item!r} is not KEY=VALUE[,VALUE...]",
                hint="e.g. --param learning_rate=0.1,0.01 (a key is letters, digits, _ . -)",
            )
        values = tuple(dict.fromkeys(v.strip() for v in raw.split(",")))
        if any(not v for v in values):
            raise UserError(f"--param {item!r} has an empty value", hint="e.g. --param depth=3,5")
        if key in grid:
            raise UserError(
                f"--param {key} is given twice", hint=f"list the values once: {key}=a,b"
            )
        grid[key] = values
    return tuple(grid.items())


def expand(grid: Grid) -> list[dict[str, str]]:
    """Every combination, the first key varying slowest; no params: one run with none."""
    keys = [k for k, _ in grid]
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in grid))
    ]


def param_args(params: Mapping[str, str]) -> list[str]:
    """The params as the entrypoint receives them, after its own args: ``--KEY VALUE``."""
    return [part for key, value in params.items() for part in (f"--{key}", value)]


def find_project(root: Path, name: str) -> Path:
    """The somlier.yaml of project ``name``: a folder relative to the monorepo root (as the
    original tool took it), or else the one folder of that name anywhere in it."""
    from pipeline.monorepo.discovery import walk_projects

    relative = PurePosixPath(name.strip("/"))
    if not name.strip("/") or relative.is_absolute() or ".." in relative.parts:
        raise UserError(f"{name!r} is not a project folder of the monorepo")
    direct = root / relative / "somlier.yaml"
    if direct.is_file():
        return direct
    found = walk_projects(root)
    matches = [p for p in found if p.parent.name == relative.name]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(p.parent.relative_to(root).as_posix() for p in found)) or "none"
    raise UserError(
        f"no project {name!r} at that ref" + (" (the name is ambiguous)" if matches else ""),
        hint=f"projects: {known}",
    )


def run_tags(checkout: Checkout, config: ProjectConfig, entrypoint: str) -> dict[str, str]:
    """The tags of every run: somlier's own and MLflow's standard source tags."""
    path = config.root.relative_to(checkout.root).as_posix()
    return {
        "somlier.project": config.name,
        "somlier.project_path": path,
        "somlier.ref": checkout.ref,
        "somlier.commit": checkout.commit,
        "somlier.entrypoint": entrypoint,
        "mlflow.source.git.commit": checkout.commit,
        "mlflow.source.git.repoURL": checkout.source,
        "mlflow.source.name": path,
        "mlflow.source.type": "PROJECT",
        "mlflow.project.entryPoint": entrypoint,
    }


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # FINISHED | FAILED | KILLED
    params: dict[str, str]
    experiment_id: str
    tracking_uri: str  # redacted
    exit_code: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "params": self.params,
            "experiment_id": self.experiment_id,
            "tracking_uri": self.tracking_uri,
        }

    def line(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items()) or "none"
        return f"run_id: {self.run_id}  status: {self.status}  params: {shown}"


def status_for(code: int) -> str:
    from pipeline.online.train_runs import status_for as status

    return status(code)


@dataclass(frozen=True)
class TrainPlan:
    config: ProjectConfig
    entrypoint: str
    runs: list[dict[str, str]]
    tags: dict[str, str]
    scratch: Path | None = None  # the checkout's root, deleted after the runs

    def argv(self, params: Mapping[str, str]) -> list[str]:
        from pipeline.runner import argv_for

        return argv_for(self.config, self.entrypoint, param_args(params))


def run_grid(
    plan: TrainPlan,
    tracking: Tracking,
    environ: Mapping[str, str],
    *,
    out: IO[str],
    err: IO[str],
    report: Callable[[int, RunResult], None],
) -> list[RunResult]:
    """Run every grid point in turn (stopping early only when interrupted); ``report`` is called
    after each run with its 1-based index."""
    from pipeline import runner
    from pipeline.online import tracking as tr
    from pipeline.online import train_runs

    plan.argv({})  # an unknown entrypoint is the user's error before any run is created
    mlflow_client = tr.client(tracking)  # first: a missing mlflow is a clear MissingDependency

    from mlflow.exceptions import MlflowException

    # Created here with the store's artifact folder, so the child's runs in it keep their
    # artifacts when the checkout is gone.
    experiment = tr.experiment_id(mlflow_client, tracking, plan.config.name)
    results: list[RunResult] = []
    for index, params in enumerate(plan.runs, 1):
        launch_id = uuid.uuid4().hex
        tags = {**plan.tags, train_runs.LAUNCH_TAG: launch_id}
        env = train_runs.child_environment(
            runner.environment_for(environ),
            tr.child_environment(tracking),
            experiment=plan.config.name,
            tags=plan.tags,
            launch_id=launch_id,
        )
        code = 1
        try:
            code = runner.run_entrypoint(
                plan.config,
                plan.entrypoint,
                param_args(params),
                env,
                fmt=plan.config.global_.logging.format,
                out=out,
                err=err,
            )
        finally:
            try:
                done = train_runs.complete(mlflow_client, launch_id, code, params, tags, experiment)
            except MlflowException as exc:
                raise StepFailed(
                    f"the entrypoint exited {code} but its run could not be completed: "
                    f"{tr.redact(str(exc))}"
                ) from exc
        for run_id in train_runs.artifacts_in(done.runs, plan.scratch):
            err.write(
                f"warning: run {run_id} kept its artifacts in the temporary checkout, now "
                "deleted: its experiment was created by the script without an artifact location "
                "(use the project's experiment, MLFLOW_EXPERIMENT_NAME, or create the experiment "
                "beforehand)\n"
            )
        result = RunResult(
            done.run_id, done.status, dict(params), done.experiment_id, tracking.shown, code
        )
        results.append(result)
        report(index, result)
        if result.status == "KILLED":
            break
    return results


def prepare(
    checkout: Checkout,
    project: str,
    entrypoint: str,
    grid: Grid,
    environ: Mapping[str, str],
) -> TrainPlan:
    """The plan for ``project`` in ``checkout``: its config, the runs, their tags."""
    from pipeline.config.project import load_project

    config = load_project(find_project(checkout.root, project), environ)
    plan = TrainPlan(config, entrypoint, expand(grid), {})
    plan.argv({})  # an unknown entrypoint fails here, before any run or Job
    tags = run_tags(checkout, config, entrypoint)
    return TrainPlan(config, entrypoint, plan.runs, tags, checkout.root)
