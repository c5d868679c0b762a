"""``online train`` results: what the CLI prints from them (summary, next step, exit code, the
planned command lines, where the Jobs went), and the options refused without ``--k8s``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import EXIT_INTERRUPTED, EXIT_STEP_FAILED, UserError
from pipeline.online.tracking import project_run_environment
from pipeline.online.train import RunResult
from pipeline.online.train_job import JobOptions, RenderedJob
from pipeline.online.training import (
    PlannedRun,
    TrainJobs,
    TrainPlanned,
    TrainRuns,
    TrainStart,
    job_options,
)

SHOWN = "http://***@mlflow.example"


def run(run_id: str, status: str, **params: str) -> RunResult:
    return RunResult(run_id, status, params, "7", SHOWN)


def runs(*results: RunResult, planned: int | None = None) -> TrainRuns:
    count = len(results) if planned is None else planned
    return TrainRuns("churn", "churn model", SHOWN, count, results)


def test_all_finished_exit_0_and_the_first_run_is_the_one_to_register() -> None:
    done = runs(run("a" * 32, "FINISHED", lr="0.1"), run("b" * 32, "FINISHED", lr="1"))
    assert done.exit_code == 0
    assert done.registrable == "a" * 32
    assert done.summary() == f"2 of 2 runs in experiment churn (id 7) at {SHOWN}: 2 FINISHED"
    assert done.to_json()[1] == {
        "run_id": "b" * 32,
        "status": "FINISHED",
        "params": {"lr": "1"},
        "experiment_id": "7",
        "tracking_uri": SHOWN,
    }


def test_a_failed_run_exits_1_and_the_next_step_skips_it() -> None:
    done = runs(run("a" * 32, "FAILED"), run("b" * 32, "FINISHED"))
    assert done.exit_code == EXIT_STEP_FAILED
    assert done.registrable == "b" * 32
    assert done.summary().endswith(": 1 FAILED, 1 FINISHED")


def test_an_interrupted_grid_exits_130_with_nothing_to_register() -> None:
    done = runs(run("a" * 32, "KILLED"), planned=3)
    assert done.exit_code == EXIT_INTERRUPTED
    assert done.registrable is None
    assert done.summary().startswith("1 of 3 runs in experiment churn")


def test_a_dry_run_lists_each_command_line_quoted() -> None:
    planned = TrainPlanned(
        "churn",
        SHOWN,
        {"somlier.ref": "main"},
        (
            PlannedRun({"note": "a b"}, ("python", "train.py", "--note", "a b")),
            PlannedRun({"note": "c"}, ("python", "train.py", "--note", "c")),
        ),
    )
    assert planned.exit_code == 0
    assert planned.lines() == [
        "2 runs planned in experiment churn:",
        "  1. python train.py --note 'a b'",
        "  2. python train.py --note c",
    ]
    assert planned.to_json()["runs"][0] == {
        "params": {"note": "a b"},
        "argv": ["python", "train.py", "--note", "a b"],
    }
    single = TrainPlanned("churn", SHOWN, {}, planned.runs[:1])
    assert single.lines()[0] == "1 run planned in experiment churn:"


def test_jobs_print_their_yaml_or_where_it_was_written(tmp_path: Path) -> None:
    job = RenderedJob("churn-train-0123456-1", {}, "registry.example/churn:sha-0123456", {})
    shown = TrainJobs((job,), "kind: Job\n", None)
    assert (shown.text(), shown.to_json()["output"]) == ("kind: Job\n", None)
    written = TrainJobs((job, job), "kind: Job\n", tmp_path / "jobs.yaml")
    assert written.text() == f"wrote 2 Jobs to {tmp_path / 'jobs.yaml'}\n"
    assert written.to_json()["output"] == str(tmp_path / "jobs.yaml")
    assert TrainJobs((job,), "", tmp_path).text().startswith("wrote 1 Job to ")


def test_the_start_line_shows_the_short_commit_and_the_redacted_store() -> None:
    start = TrainStart("churn", "main", "0123456789abcdef" * 2 + "01234567", "/src", SHOWN, 2)
    assert start.line() == f"project churn at main (0123456789ab) from /src; tracking {SHOWN}"


def test_job_options_are_refused_without_k8s() -> None:
    with pytest.raises(UserError, match=r"^--cpu, --output only apply with --k8s$"):
        job_options(False, cpu="2", output=Path("jobs.yaml"))
    assert job_options(False) is None
    assert job_options(True, memory="4Gi") == JobOptions(memory="4Gi")


def test_an_entrypoint_run_asks_for_the_settings_only_when_the_environment_names_no_store(
    tmp_path: Path,
) -> None:
    def no_settings() -> str:
        raise AssertionError("the settings were read")

    env = project_run_environment(
        tmp_path,
        "churn",
        environ={"MLFLOW_TRACKING_URI": "http://mlflow", "MLFLOW_EXPERIMENT_NAME": "mine"},
        settings_uri=no_settings,
    )
    assert env == {}  # the caller's store and experiment are left as they are
    env = project_run_environment(
        tmp_path, "churn", environ={}, settings_uri=lambda: "http://mlflow.example"
    )
    assert env == {
        "MLFLOW_EXPERIMENT_NAME": "churn",
        "MLFLOW_TRACKING_URI": "http://mlflow.example",
    }
