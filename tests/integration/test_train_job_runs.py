"""Run what `online train --k8s` generates: the rendered Job's container (image, command, args,
env and working folder as the Job spec gives them) runs on the test Docker engine from the
project's image, built from the template's Dockerfile, and logs a tagged run with its model to a
real `mlflow server` on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import GIT_ENV
from tests.integration.services import docker
from tests.integration.test_online_train import mlflow_server  # noqa: F401  (a fixture)
from tests.integration.test_scaffold import somlier_wheel, wheelhouse  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
SOMLIER = BIN / "somlier"


def run(
    *argv: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    full.pop("MLFLOW_TRACKING_URI", None)
    full.update(env or {})
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=full, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (
        f"{done.args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done


def docker_run_argv(container: dict[str, Any]) -> list[str]:
    """`docker run` arguments that start ``container`` as a kubelet would: the Job's command
    replaces the image's ENTRYPOINT (and its CMD), args follow, env and workingDir as given."""
    argv = ["run", "--rm", "--network", "host"]
    for item in container.get("env", []):
        argv += ["--env", f"{item['name']}={item['value']}"]
    if "workingDir" in container:
        argv += ["--workdir", container["workingDir"]]
    command = list(container.get("command", []))
    if command:
        argv += ["--entrypoint", command[0]]
    argv.append(container["image"])
    return argv + command[1:] + list(container.get("args", []))


def test_the_training_job_container_runs_and_logs_a_tagged_run(
    tmp_path: Path,
    docker_host: str,
    base_image: str,
    wheelhouse: str,  # noqa: F811
    mlflow_server: str,  # noqa: F811
) -> None:
    from mlflow import MlflowClient

    run(SOMLIER, "new-monorepo", "ml-projects", cwd=tmp_path)
    mono = tmp_path / "ml-projects"
    run(SOMLIER, "new-project", "-o", "projects", "--no-input", "--name", "job-project", cwd=mono)
    project = mono / "projects" / "job-project"
    run(SOMLIER, "notebook", "notebooks/example/example.ipynb", "-o", "train.py", "--force",
        cwd=project)  # fmt: skip
    run("git", "add", "-A", cwd=mono)
    run("git", "commit", "-q", "--no-verify", "-m", "job-project", cwd=mono)
    head = run("git", "rev-parse", "HEAD", cwd=mono).stdout.strip()

    tag = f"job-{os.getpid()}"
    rendered = run(
        SOMLIER, "online", "train", "projects/job-project", "main", "--k8s", "-P", "C=0.25",
        "--image-tag", tag, cwd=mono, env={"MLFLOW_TRACKING_URI": mlflow_server},
    )  # fmt: skip
    [job] = list(yaml.safe_load_all(rendered.stdout))
    [container] = job["spec"]["template"]["spec"]["containers"]
    image = container["image"]
    assert image.endswith(f"job-project:{tag}")

    build = [
        "build", "--network", "host", "-t", image,
        "--build-arg", f"BASE_IMAGE={base_image}",
        "--build-arg", f"PIP_INDEX_URL={wheelhouse}/no-index/",
        "--build-arg", f"PIP_FIND_LINKS={wheelhouse}/",
    ]  # fmt: skip
    try:
        docker(*build, str(project), docker_host=docker_host, timeout=1800)
        done = docker(*docker_run_argv(container), docker_host=docker_host, timeout=900)
    finally:
        docker("rmi", "--force", image, docker_host=docker_host, check=False)
    printed = dict(
        line.split(": ", 1)
        for line in done.stdout.splitlines()
        if line.startswith(("run_id", "acc"))
    )
    mlflow = MlflowClient(mlflow_server)
    logged = mlflow.get_run(printed["run_id"])
    assert mlflow.get_experiment(logged.info.experiment_id).name == "job-project"
    assert logged.info.status == "FINISHED"
    tags = logged.data.tags
    assert (tags["somlier.commit"], tags["somlier.ref"], tags["somlier.project"]) == (
        head, "main", "job-project"
    )  # fmt: skip
    assert logged.data.params["C"] == "0.25"
    assert logged.data.metrics["accuracy"] == pytest.approx(float(printed["accuracy"]), abs=1e-3)
    [model] = mlflow.search_logged_models([logged.info.experiment_id])
    assert model.source_run_id == logged.info.run_id
