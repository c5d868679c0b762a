"""The data scientist's path through training, for real, in a monorepo from `new-monorepo`: a new
project, its notebook converted to train.py, the project's test, `online train` (the notebook
sets its own experiment), `online register` and `config run train`, all on the monorepo's one
MLflow store (no MLFLOW_TRACKING_URI anywhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import GIT_ENV

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
SOMLIER = BIN / "somlier"


def run(*argv: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        env.pop(name, None)
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{done.args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done


def stdout_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [line for r in records for line in r.get("stdout", "").splitlines()]


def test_notebook_to_train_py_to_a_registered_model_on_one_store(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    run(SOMLIER, "new-monorepo", "ml-projects", cwd=tmp_path)
    mono = tmp_path / "ml-projects"
    run(SOMLIER, "new-project", "-o", "projects", "--no-input", "--name", "nuj-project", cwd=mono)
    project = mono / "projects" / "nuj-project"
    notebook = "notebooks/example/example.ipynb"
    run(SOMLIER, "notebook", notebook, "-o", "train.py", "--force", cwd=project)

    store = mono / ".somlier" / "mlflow.db"
    tested = run(SOMLIER, "config", "run", "test", cwd=project)
    assert stdout_lines(tested) == ["tests passed"]  # and no training on import:
    assert not store.exists() and not (project / "mlruns").exists()

    run("git", "add", "-A", cwd=mono)
    run("git", "commit", "-q", "--no-verify", "-m", "nuj-project: train.py from the notebook",
        cwd=mono)  # fmt: skip
    head = run("git", "rev-parse", "HEAD", cwd=mono).stdout.strip()

    trained = run(SOMLIER, "online", "train", "projects/nuj-project", "main", "--json", cwd=mono)
    [result] = json.loads(trained.stdout)
    uri = f"sqlite:///{store}"
    assert (result["status"], result["tracking_uri"]) == ("FINISHED", uri)
    mlflow = MlflowClient(uri, registry_uri=uri)
    logged = mlflow.get_run(result["run_id"])
    tags = logged.data.tags
    assert (tags["somlier.commit"], tags["somlier.ref"], tags["somlier.project"]) == (
        head, "main", "nuj-project"
    )  # fmt: skip
    # the notebook's own run, in the project's experiment, with what the notebook logged
    assert mlflow.get_experiment(logged.info.experiment_id).name == "nuj-project"
    assert logged.data.params == {"C": "0.5", "max_iter": "300", "seed": "42"}
    assert logged.data.metrics["accuracy"] > 0.8
    assert logged.info.artifact_uri.startswith((mono / ".somlier" / "mlartifacts").as_uri())

    registered = run(SOMLIER, "online", "register", result["run_id"], "nuj-project", cwd=mono)
    assert registered.stdout == "model version: 1\n"
    assert mlflow.get_model_version("nuj-project", "1").run_id == result["run_id"]

    # A local run from the project folder lands in the same store, and registers from there too.
    local = run(SOMLIER, "config", "run", "train", "--", "--C", "0.25", cwd=project)
    [run_id] = [line.split()[-1] for line in stdout_lines(local) if line.startswith("run_id:")]
    again: Any = mlflow.get_run(run_id)
    assert (again.data.params["C"], again.info.experiment_id) == ("0.25", logged.info.experiment_id)
    assert not (project / "mlflow.db").exists() and not (project / "mlruns").exists()
    registered = run(SOMLIER, "online", "register", run_id, "nuj-project", cwd=project)
    assert registered.stdout == "model version: 2\n"
