"""The MLflow runs of one training child: its environment, finding the runs it started, and
completing them (somlier's tags, the grid's params, the status from the exit code).

The child creates its own runs, so a script that calls ``mlflow.set_experiment(...)`` with any
name, or ``mlflow.start_run(...)`` with any arguments, trains as it does by hand. MLflow itself
tags every run the child starts with ``MLFLOW_RUN_CONTEXT`` (somlier's tags plus a launch id
unique to the child); afterwards somlier finds the runs by that id in every experiment of the
store. A child that started no run (it never calls MLflow, or died first) still leaves one run,
which somlier creates for the record.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mlflow import MlflowClient

LAUNCH_TAG = "somlier.launch_id"
_PARENT_TAG = "mlflow.parentRunId"
_INTERRUPTED = {128 + signal.SIGINT, 128 + signal.SIGTERM}
_OPEN = {"RUNNING", "SCHEDULED"}
# Variables of the caller that would send the child's runs elsewhere than somlier looks.
_DROPPED = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_CONTEXT")
_CHUNK = 100  # experiment ids per search request


def status_for(code: int) -> str:
    """FINISHED for exit 0, KILLED for SIGINT/SIGTERM (130/143), FAILED otherwise."""
    if code == 0:
        return "FINISHED"
    return "KILLED" if code in _INTERRUPTED else "FAILED"


def child_environment(
    base: Mapping[str, str],
    store: Mapping[str, str],
    *,
    experiment: str,
    tags: Mapping[str, str],
    launch_id: str,
) -> dict[str, str]:
    """The child's environment: ``base`` without the caller's run or experiment choice, the
    store's variables, the project's experiment as the default one, and the run context."""
    env = {k: v for k, v in base.items() if k not in _DROPPED}
    env.update(store)
    env["MLFLOW_EXPERIMENT_NAME"] = experiment
    env["MLFLOW_RUN_CONTEXT"] = json.dumps({**tags, LAUNCH_TAG: launch_id}, sort_keys=True)
    return env


@dataclass(frozen=True)
class ChildRun:
    """What somlier needs to know of a run the child started."""

    run_id: str
    status: str
    start_time: int
    nested: bool = False
    param_keys: frozenset[str] = frozenset()
    artifact_uri: str = ""


@dataclass(frozen=True)
class Settlement:
    """What to write once the child has exited. ``reported`` is the run the result names (the
    first top-level run the child started), or None when somlier must create the run itself."""

    reported: str | None
    status: str
    statuses: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tagged: tuple[str, ...] = ()


def settle(runs: Sequence[ChildRun], code: int, params: Mapping[str, str]) -> Settlement:
    """The writes that complete the child's runs.

    Every top-level run gets somlier's tags and the grid params it did not log itself (a value
    the script logged is kept). A failed or interrupted child marks its top-level runs FAILED or
    KILLED, whatever the script recorded; runs the child left open are closed with the status of
    its exit code; runs it ended itself keep their status when it exited 0.
    """
    exit_status = status_for(code)
    if not any(not r.nested for r in runs):
        return Settlement(None, exit_status)
    top = sorted((r for r in runs if not r.nested), key=lambda r: (r.start_time, r.run_id))
    statuses: dict[str, str] = {}
    for run in runs:
        closes = (code != 0 and not run.nested) or run.status in _OPEN
        if closes and run.status != exit_status:
            statuses[run.run_id] = exit_status
    missing = {r.run_id: {k: v for k, v in params.items() if k not in r.param_keys} for r in top}
    reported = top[0]
    return Settlement(
        reported.run_id,
        statuses.get(reported.run_id, reported.status),
        statuses,
        {run_id: values for run_id, values in missing.items() if values},
        tuple(r.run_id for r in top),
    )


def artifacts_in(runs: Sequence[ChildRun], folder: Path | None) -> list[str]:
    """The runs whose artifacts went into ``folder`` (the temporary checkout, about to go)."""
    if folder is None:
        return []
    return [run.run_id for run in runs if in_folder(run.artifact_uri, folder)]


def in_folder(artifact_uri: str, folder: Path) -> bool:
    """Whether a ``file:`` artifact URI lies inside ``folder`` (the temporary checkout)."""
    if not artifact_uri.startswith("file:"):
        return False
    from urllib.parse import unquote, urlsplit

    path = Path(unquote(urlsplit(artifact_uri).path))
    return path == folder or folder in path.parents


# --- MLflow I/O ---------------------------------------------------------------------------


def find(client: MlflowClient, launch_id: str) -> list[ChildRun]:
    """The runs tagged with ``launch_id``, in every active experiment of the store."""
    experiments: list[str] = []
    token: str | None = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        experiments += [str(e.experiment_id) for e in page]
        token = page.token
        if not token:
            break
    query = f"tags.`{LAUNCH_TAG}` = '{launch_id}'"
    found: list[ChildRun] = []
    for start in range(0, len(experiments), _CHUNK):
        chunk = experiments[start : start + _CHUNK]
        token = None
        while True:
            runs = client.search_runs(chunk, query, max_results=1000, page_token=token)
            found += [
                ChildRun(
                    run.info.run_id,
                    run.info.status,
                    int(run.info.start_time or 0),
                    _PARENT_TAG in run.data.tags,
                    frozenset(run.data.params),
                    run.info.artifact_uri or "",
                )
                for run in runs
            ]
            token = runs.token
            if not token:
                break
    return found


@dataclass(frozen=True)
class Completed:
    """The run a grid point reports, its status and experiment; every run the child started."""

    run_id: str
    status: str
    experiment_id: str
    runs: list[ChildRun]


def complete(
    client: MlflowClient,
    launch_id: str,
    code: int,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    experiment_id: str,
) -> Completed:
    """Find the child's runs and complete them (or record one for a child that started none);
    ``tags`` include the launch id, ``experiment_id`` is the project's experiment."""
    found = find(client, launch_id)
    settled = settle(found, code, params)
    if settled.reported is None:
        run_id = record(client, experiment_id, tags, params, settled.status)
        return Completed(run_id, settled.status, experiment_id, found)
    apply(client, settled, tags)
    experiment = str(client.get_run(settled.reported).info.experiment_id)
    return Completed(settled.reported, settled.status, experiment, found)


def apply(
    client: MlflowClient,
    settlement: Settlement,
    tags: Mapping[str, str],
) -> None:
    """Write the settlement: tags and params first, then the statuses."""
    from mlflow.entities import Param, RunTag

    for run_id in settlement.tagged:
        client.log_batch(
            run_id,
            params=[Param(k, v) for k, v in settlement.params.get(run_id, {}).items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
    for run_id, status in settlement.statuses.items():
        _terminate(client, run_id, status)


def record(
    client: MlflowClient,
    experiment_id: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    status: str,
) -> str:
    """A run for a child that started none: tagged, with the params and the exit's status."""
    from mlflow.entities import Param

    run_id = str(client.create_run(experiment_id, tags=dict(tags)).info.run_id)
    if params:
        client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    _terminate(client, run_id, status)
    return run_id


def _terminate(client: MlflowClient, run_id: str, status: str) -> None:
    # Over HTTP, MLflow prints "View run at <URI>" here: not on our stdout (--json), and never
    # with the URI's credentials.
    sink: TextIO = io.StringIO()
    with contextlib.redirect_stdout(sink):
        client.set_terminated(run_id, status)
