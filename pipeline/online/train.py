"""Training runs: the ``--param`` grid, the project inside the checkout, and one MLflow run per
grid point, each running the project's entrypoint as a child process.

The parent creates each run (with its tags and params) and hands it to the child through
``MLFLOW_RUN_ID``, so ``mlflow.start_run()`` in the project's code resumes it; the parent then
marks it FINISHED, FAILED or KILLED from the child's exit code. A run exists, tagged, even when
the project's code never calls MLflow or dies before it does.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from pipeline.config.model import ProjectConfig
from pipeline.errors import StepFailed, UserError
from pipeline.online.checkout import Checkout
from pipeline.online.tracking import Tracking

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,249}$")
_INTERRUPTED = {128 + signal.SIGINT, 128 + signal.SIGTERM}

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
    if code == 0:
        return "FINISHED"
    return "KILLED" if code in _INTERRUPTED else "FAILED"


@dataclass(frozen=True)
class TrainPlan:
    config: ProjectConfig
    entrypoint: str
    runs: list[dict[str, str]]
    tags: dict[str, str]

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

    plan.argv({})  # an unknown entrypoint is the user's error before any run is created
    mlflow_client = tr.client(tracking)  # first: a missing mlflow is a clear MissingDependency

    from mlflow.entities import Param
    from mlflow.exceptions import MlflowException

    experiment = tr.experiment_id(mlflow_client, tracking, plan.config.name)
    results: list[RunResult] = []
    for index, params in enumerate(plan.runs, 1):
        try:
            run = mlflow_client.create_run(experiment, tags=plan.tags)
            run_id = run.info.run_id
            if params:
                mlflow_client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
        except MlflowException as exc:
            raise tr.mlflow_failure(exc, tracking, "creating a run") from exc
        env = {
            **runner.environment_for(environ),
            **tr.child_environment(tracking),
            "MLFLOW_EXPERIMENT_ID": experiment,
            "MLFLOW_RUN_ID": run_id,
        }
        env.pop("MLFLOW_EXPERIMENT_NAME", None)
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
            status = status_for(code)
            try:
                # Over HTTP, MLflow prints "View run at <URI>" here: not on our stdout (--json),
                # and never with the URI's credentials.
                with contextlib.redirect_stdout(io.StringIO()):
                    mlflow_client.set_terminated(run_id, status)
            except MlflowException as exc:
                raise StepFailed(
                    f"run {run_id} ended ({status}) but could not be marked so: "
                    f"{tr.redact(str(exc))}"
                ) from exc
        result = RunResult(run_id, status, dict(params), experiment, tracking.shown, code)
        results.append(result)
        report(index, result)
        if status == "KILLED":
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
    return TrainPlan(config, entrypoint, plan.runs, run_tags(checkout, config, entrypoint))
