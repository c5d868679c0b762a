"""A DAG somlier writes is run, not only checked: each task's pod, as `somlier dags check` builds
it offline from the DAG file in a real Airflow, is started on the test Docker engine from the
project's image (built from the project template's Dockerfile), and runs the entrypoint.

Both forms of batch job: the original tool's `offline create IMAGE SCHEDULE "run main" DAG_ID`
and the `offline:` jobs of a somlier.yaml (`entrypoint: main`, `command: "run main"`), each plain
and with a GPU (the GPU pod's limit and node selector are checked in its spec; the container
runs without a GPU). The monorepo comes from `somlier new-monorepo`, so the GPU types are the
ones it ships.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.main import main
from tests.helpers import wheelhouse
from tests.helpers.git import GIT_ENV
from tests.integration.dag_runtime.airflow_venv import Airflow
from tests.integration.podrun import Container, PodRunError, docker_run_argv, run_container
from tests.integration.services import docker

pytestmark = pytest.mark.integration

SOMLIER = Path(sys.executable).parent / "somlier"
PROJECT = "nuj-project"
HELLO = [("main", "hello world!!\n")]
JOBS = """\
offline:
  - {dag_id: nuj_daily, schedule: "0 9 * * *", entrypoint: main}
  - dag_id: nuj_daily_gpu
    schedule: "@daily"
    command: "run main"
    gpu: {type: nvidia-tesla-t4, count: 1}
"""
P100 = {"cloud.google.com/gke-accelerator": "nvidia-tesla-p100"}
T4 = {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}


def _somlier(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(SOMLIER), *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Test fixture: this checkout's somlier and its dependencies on a loopback find-links page
    (the image has no index to get somlier from; how production images get it is the platform
    settings' business, not this test's)."""
    built = wheelhouse.somlier_wheel(tmp_path_factory.mktemp("somlier-wheel"))
    deps = wheelhouse.cached_wheels(wheelhouse.somlier_dependencies())
    folder = wheelhouse.link_all(tmp_path_factory.mktemp("wheelhouse"), deps, built)
    with wheelhouse.serve(folder) as url:
        yield url


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`new-monorepo`, then `new-project` in it, with two offline: jobs added."""
    top = tmp_path_factory.mktemp("journey")
    mono = top / "ml-projects"
    _somlier(top, "new-monorepo", str(mono), "--no-git")
    answers = ["--description", "demo", "--team", "data", "--author", "nuj", "--email", "n@x.io"]
    _somlier(mono / "projects", "new-project", "--no-input", "--project-name", PROJECT, *answers)
    project = mono / "projects" / PROJECT
    # Test fixture: the job runs main.py, which imports nothing; the template's ML packages would
    # only make the image slower to build here.
    (project / "requirements.txt").write_text("", encoding="utf-8")
    config = project / "somlier.yaml"
    config.write_text(config.read_text(encoding="utf-8") + JOBS, encoding="utf-8")
    return mono


@pytest.fixture(scope="module")
def image(monorepo: Path, wheels: str, docker_host: str, base_image: str) -> Iterator[str]:
    """The project's image from the template's Dockerfile, named as `offline render` names it
    in a new monorepo (no registry, prefix ml-)."""
    tag = f"ml-{PROJECT}:sha-{uuid.uuid4().hex[:7]}"
    project = monorepo / "projects" / PROJECT
    args = ["--network", "host", "--build-arg", f"BASE_IMAGE={base_image}"]
    args += wheelhouse.build_args(wheels)
    docker("build", *args, "-t", tag, str(project), docker_host=docker_host, timeout=1800)
    try:
        yield tag
    finally:
        docker("image", "rm", "-f", tag, docker_host=docker_host, check=False)


@pytest.fixture(scope="module")
def dags(monorepo: Path, image: str, airflow: Airflow) -> Iterator[Path]:
    """The dags repository: the operators of `dags init`, the DAGs of `offline create` (the
    tutorial's arguments, plain and GPU) and of `offline render` (the project's jobs), rendered
    for the Airflow under test (its major version as the platform's airflow.version)."""
    repo = monorepo.parent / f"mlops-dags-airflow{airflow.major}"
    out = repo / "dags"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOMLIER__AIRFLOW__VERSION", str(airflow.major))
        assert main(["dags", "init", str(repo)]) == 0
        create = ["offline", "create", "-C", str(monorepo), image, "0 9 * * *", "run main"]
        assert main([*create, "nuj_tutorial", "--output-dir", str(out / PROJECT)]) == 0
        gpu = ["--gpu_type=nvidia-tesla-p100", "--num_of_gpus=2"]
        assert main([*create, "nuj_tutorial_gpu", *gpu, "--output-dir", str(out / PROJECT)]) == 0
        tag = image.rsplit(":", 1)[1]
        render = ["offline", "render", "-C", str(monorepo), "--tag", tag, "--output-dir", str(out)]
        assert main(render) == 0
    dag_import = {3: "from airflow.sdk import DAG", 2: "from airflow import DAG"}[airflow.major]
    for path in out.rglob("*.py"):
        assert dag_import in path.read_text(encoding="utf-8").splitlines(), path
    yield repo


def _pods(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {dag["dag_id"]: task["pod"] for dag in report["dags"] for task in dag["tasks"]}


def _records(stdout: str) -> list[tuple[str, str]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [(r["name"], r["stdout"]) for r in lines]


def test_each_dag_task_pod_runs_its_entrypoint_on_the_engine(
    dags: Path,
    image: str,
    docker_host: str,
    check: Callable[..., tuple[int, str, str]],
) -> None:
    code, out, err = check(dags, "--json")
    report = json.loads(out)
    assert code == 0 and report["problems"] == [], err
    pods = _pods(report)
    assert sorted(pods) == ["nuj_daily", "nuj_daily_gpu", "nuj_tutorial", "nuj_tutorial_gpu"]
    placement = {
        "nuj_daily": ({}, {}),
        "nuj_tutorial": ({}, {}),
        "nuj_daily_gpu": ({"nvidia.com/gpu": "1"}, T4),
        "nuj_tutorial_gpu": ({"nvidia.com/gpu": "2"}, P100),
    }
    for dag_id, pod in sorted(pods.items()):
        assert pod["image"] == image
        assert (pod["command"], pod["args"]) == (["somlier", "config"], ["run", "main"])
        assert (pod["limits"], pod["node_selector"]) == placement[dag_id], dag_id
        if pod["node_selector"]:
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in [
                {k: t.get(k) for k in ("key", "operator", "effect")} for t in pod["tolerations"]
            ]
        done = run_container(Container.of(pod), docker_host=docker_host)
        assert done.returncode == 0, (dag_id, done.stdout, done.stderr)
        assert _records(done.stdout) == HELLO, (dag_id, done.stdout)


def test_a_pod_on_the_image_entrypoint_would_fail_and_dags_check_says_so(
    dags: Path,
    image: str,
    docker_host: str,
    check: Callable[..., tuple[int, str, str]],
) -> None:
    """What the issue saw: the DAG's args on the image's ENTRYPOINT (`somlier config run`) run
    `somlier config run run main`. An operators package from before the contract is caught."""
    stale = Container(image=image, args=("run", "main"))
    done = run_container(stale, docker_host=docker_host)
    assert done.returncode != 0 and "no entrypoint 'run'" in done.stdout + done.stderr

    operator = dags / "operators" / "mlops_offline_operator.py"
    source = operator.read_text(encoding="utf-8")
    operator.write_text(source.replace("cmds=list(POD_COMMAND),", ""), encoding="utf-8")
    try:
        code, out, _ = check(dags)
    finally:
        operator.write_text(source, encoding="utf-8")
    assert code == 2
    lines = [line for line in out.splitlines() if "pod-command" in line or "ENTRYPOINT" in line]
    assert len(lines) == 4 and all(
        "its pod runs the image's ENTRYPOINT with ['run', 'main'], not somlier config" in line
        for line in lines
    ), out


def test_a_spec_maps_to_docker_run_as_a_kubelet_starts_it() -> None:
    """command replaces ENTRYPOINT and CMD; args alone keep the ENTRYPOINT; env exactly."""
    both = Container(image="i:1", command=("somlier", "config"), args=("run", "main"))
    assert docker_run_argv(both) == [
        *("run", "--rm", "--network", "host", "--entrypoint", "somlier", "i:1"),
        *("config", "run", "main"),
    ]
    args_only = Container(image="i:1", args=("train",), working_dir="/w", env=("A",))
    assert docker_run_argv(args_only, env={"A": "1"}) == [
        *("run", "--rm", "--network", "host", "--workdir", "/w", "--env", "A=1", "i:1", "train")
    ]
    with pytest.raises(PodRunError, match="values were given"):
        docker_run_argv(args_only)
    manifest = Container.of_manifest(
        {
            "image": "i:1",
            "command": ["python", "-m", "x"],
            "env": [{"name": "MLFLOW_TRACKING_URI", "value": "http://127.0.0.1:5000"}],
            "envFrom": [{"secretRef": {"name": "creds"}}],
        }
    )
    assert docker_run_argv(manifest, secrets={"creds": {"TOKEN": "t"}})[-7:] == [
        *("--env", "TOKEN=t", "--env", "MLFLOW_TRACKING_URI=http://127.0.0.1:5000"),
        *("i:1", "-m", "x"),
    ]
    with pytest.raises(PodRunError, match="Secrets"):
        docker_run_argv(manifest)
