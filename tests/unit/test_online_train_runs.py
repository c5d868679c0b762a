"""The runs of a training child, the pure parts: the child's environment (no run id of its own to
resume, so the script's set_experiment/start_run work), how the runs it started are completed
(tags, params it did not log, status from the exit code), and the store ``config run`` gives an
entrypoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.online import tracking
from pipeline.online.train_runs import (
    LAUNCH_TAG,
    ChildRun,
    artifacts_in,
    child_environment,
    in_folder,
    settle,
)

TAGS = {"somlier.commit": "c" * 40, "somlier.ref": "main", "somlier.project": "tiny"}


def test_the_child_starts_its_own_runs_in_the_project_experiment_with_the_tags() -> None:
    caller = {
        "PATH": "/bin",
        "MLFLOW_RUN_ID": "0" * 32,  # left over from another tool: never resumed
        "MLFLOW_EXPERIMENT_ID": "7",
        "MLFLOW_EXPERIMENT_NAME": "someone-else",
        "MLFLOW_TRACKING_URI": "http://old:5000",
    }
    store = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLFLOW_TRACKING_PASSWORD": "pw"}
    env = child_environment(caller, store, experiment="tiny", tags=TAGS, launch_id="abc")
    assert "MLFLOW_RUN_ID" not in env and "MLFLOW_EXPERIMENT_ID" not in env
    assert env["MLFLOW_EXPERIMENT_NAME"] == "tiny"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert (env["PATH"], env["MLFLOW_TRACKING_PASSWORD"]) == ("/bin", "pw")
    assert json.loads(env["MLFLOW_RUN_CONTEXT"]) == {**TAGS, LAUNCH_TAG: "abc"}


def test_a_child_without_runs_gets_one_recorded_with_its_exit_status() -> None:
    assert settle([], 0, {"x": "1"}).reported is None
    assert settle([], 0, {}).status == "FINISHED"
    assert settle([], 3, {}).status == "FAILED"
    assert settle([], 130, {}).status == "KILLED"


def test_the_first_top_level_run_is_reported_and_gets_the_params_it_did_not_log() -> None:
    runs = [
        ChildRun("nested", "FINISHED", 5, nested=True),
        ChildRun("second", "FINISHED", 9, param_keys=frozenset({"lr"})),
        ChildRun("first", "FINISHED", 2, param_keys=frozenset({"lr"})),
    ]
    done = settle(runs, 0, {"lr": "1", "depth": "3"})
    assert (done.reported, done.status) == ("first", "FINISHED")
    assert done.tagged == ("first", "second")  # nested runs keep MLflow's parent link only
    # the script's own "lr" stays as it logged it; only "depth" is added
    assert done.params == {"first": {"depth": "3"}, "second": {"depth": "3"}}
    assert done.statuses == {}  # ended by the script, exit 0: left as they are


def test_a_failed_or_interrupted_child_marks_its_runs_and_open_ones_are_closed() -> None:
    runs = [
        ChildRun("top", "FINISHED", 1),  # the script ended it, then crashed
        ChildRun("inner", "RUNNING", 2, nested=True),
        ChildRun("inner-done", "FINISHED", 3, nested=True),
    ]
    failed = settle(runs, 3, {})
    assert failed.status == "FAILED"
    assert failed.statuses == {"top": "FAILED", "inner": "FAILED"}
    killed = settle(runs, 143, {})
    assert (killed.status, killed.statuses["top"]) == ("KILLED", "KILLED")
    left_open = settle([ChildRun("top", "RUNNING", 1)], 0, {})
    assert (left_open.status, left_open.statuses) == ("FINISHED", {"top": "FINISHED"})
    marked = settle([ChildRun("top", "FAILED", 1)], 0, {})  # the script said it failed
    assert (marked.status, marked.statuses) == ("FAILED", {})


def test_artifacts_inside_the_checkout_are_recognised(tmp_path: Path) -> None:
    checkout = tmp_path / "repo"
    assert in_folder((checkout / "projects/p/mlruns/1/abc/artifacts").as_uri(), checkout)
    assert not in_folder((tmp_path / ".somlier/mlartifacts/1").as_uri(), checkout)
    assert not in_folder((tmp_path / "repo-other").as_uri(), checkout)
    assert not in_folder("mlflow-artifacts:/1/abc/artifacts", checkout)
    lost = ChildRun("lost", "FINISHED", 1, artifact_uri=(checkout / "mlruns/2/x").as_uri())
    kept = ChildRun("kept", "FINISHED", 2, artifact_uri="mlflow-artifacts:/2/y")
    assert artifacts_in([lost, kept], checkout) == ["lost"]
    assert artifacts_in([lost], None) == []


@pytest.mark.parametrize(
    ("env_uri", "settings_uri", "repo", "expected_uri"),
    [
        (None, "", Path("/mono"), "sqlite:////mono/.somlier/mlflow.db"),
        (None, "http://team:5000", Path("/mono"), "http://team:5000"),
        ("http://mine:5000", "http://team:5000", Path("/mono"), None),  # the caller's is kept
        (None, "", None, None),  # outside a repository (the image): MLflow's own default
    ],
)
def test_local_runs_use_the_monorepo_store_unless_told_otherwise(
    env_uri: str | None, settings_uri: str, repo: Path | None, expected_uri: str | None
) -> None:
    env = tracking.local_run_environment(
        env_uri=env_uri, settings_uri=settings_uri, repo=repo, experiment="nuj-project"
    )
    assert env.get("MLFLOW_TRACKING_URI") == expected_uri
    assert env["MLFLOW_EXPERIMENT_NAME"] == "nuj-project"
    chosen = tracking.local_run_environment(
        env_uri=None, settings_uri="https://u:pw@team", repo=None, experiment=None
    )
    assert chosen == {
        "MLFLOW_TRACKING_URI": "https://team",
        "MLFLOW_TRACKING_USERNAME": "u",
        "MLFLOW_TRACKING_PASSWORD": "pw",
    }


def test_config_run_finds_the_store_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image runs `somlier config run` in /app: no git there, and no checkout. The store is
    found from the folders alone (unit tests refuse subprocesses, so git would fail here)."""
    from pipeline.cli.wiring.mlflow_store import local_run_environment

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    alone = tmp_path / "app"
    alone.mkdir()
    env = local_run_environment(alone, "nuj-project")
    assert "MLFLOW_TRACKING_URI" not in env  # nothing to point at: MLflow's own default

    mono = tmp_path / "mono"
    (mono / ".git").mkdir(parents=True)
    project = mono / "projects" / "nuj-project"
    project.mkdir(parents=True)
    env = local_run_environment(project, "nuj-project")
    assert env["MLFLOW_TRACKING_URI"] == f"sqlite:///{mono.resolve()}/.somlier/mlflow.db"
    assert (mono / ".somlier").is_dir()
