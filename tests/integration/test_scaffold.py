"""Day one for real: a new project validates, runs, trains into MLflow, converts its notebook,
serves its model with BentoML and builds into an image that runs `main`; the monorepo's Makefile
targets work with a freshly installed somlier; `somlier init` makes a real environment and hook.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.helpers.git import GIT_ENV
from tests.integration.services import docker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SOMLIER = BIN / "somlier"
ANSWERS = (
    "--description",
    "demo",
    "--team",
    "data team",
    "--author",
    "nuj",
    "--email",
    "nuj@example.com",
)
CACHE = Path(os.environ.get("SOMLIER_CACHE", Path.home() / ".cache" / "somlier-test"))


def env_with(**extra: str) -> dict[str, str]:
    # The venv's bin first: the entrypoints' `python` and `bentoml` are the ones with the packages.
    return {**os.environ, **GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}


def run(
    *argv: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env or env_with(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (
        f"{done.args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done


def new_project(parent: Path, name: str = "nuj-project") -> Path:
    ok(run(SOMLIER, "new-project", "--no-input", "--project-name", name, *ANSWERS, cwd=parent))
    return parent / name


def records(stdout: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def mlflow_run(tracking_uri: str, run_id: str) -> object:
    import mlflow

    return mlflow.MlflowClient(tracking_uri=tracking_uri).get_run(run_id)


def test_a_new_project_validates_and_runs_main(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    done = ok(run(SOMLIER, "validate", "--json", project, cwd=tmp_path))
    assert json.loads(done.stdout)["ok"] is True
    done = ok(run(SOMLIER, "config", "run", "main", cwd=project))
    assert [(r["name"], r["stdout"]) for r in records(done.stdout)] == [("main", "hello world!!\n")]
    ok(run(SOMLIER, "config", "run", "test", cwd=project))


def test_train_py_logs_a_run_to_mlflow(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = ok(
        run(
            SOMLIER,
            "config",
            "run",
            "train",
            "--",
            "--C",
            "0.5",
            cwd=project,
            env=env_with(MLFLOW_TRACKING_URI=uri),
        )
    )
    lines = "".join(r["stdout"] for r in records(done.stdout) if "stdout" in r)
    run_id = next(line.split()[-1] for line in lines.splitlines() if line.startswith("run_id:"))
    logged = mlflow_run(uri, run_id)
    assert logged.data.params["C"] == "0.5"  # type: ignore[attr-defined]
    assert logged.data.metrics["accuracy"] > 0.8  # type: ignore[attr-defined]
    import mlflow

    experiment = mlflow.MlflowClient(tracking_uri=uri).get_experiment(logged.info.experiment_id)  # type: ignore[attr-defined]
    assert experiment.name == "nuj-project"
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert model.metadata.get_input_schema() is not None


def test_the_example_notebook_converts_and_the_script_runs(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    ok(
        run(
            SOMLIER,
            "notebook",
            "notebooks/example/example.ipynb",
            "-o",
            "train.py",
            "--force",
            cwd=project,
        )
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = ok(run(BIN / "python", "train.py", cwd=project, env=env_with(MLFLOW_TRACKING_URI=uri)))
    assert "Python" not in done.stdout  # `!python --version` was commented out, not run
    run_id = next(
        line.split()[-1] for line in done.stdout.splitlines() if line.startswith("run_id:")
    )
    logged = mlflow_run(uri, run_id)
    assert logged.data.params == {"C": "0.5", "max_iter": "300", "seed": "42"}  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_service_py_serves_a_trained_model(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = ok(run(BIN / "python", "train.py", cwd=project, env=env_with(MLFLOW_TRACKING_URI=uri)))
    run_id = next(
        line.split()[-1] for line in done.stdout.splitlines() if line.startswith("run_id:")
    )
    port = free_port()
    env = env_with(MLFLOW_TRACKING_URI=uri, MODEL_URI=f"runs:/{run_id}/model")
    server = subprocess.Popen(
        [
            str(BIN / "bentoml"),
            "serve",
            "service:Model",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        names = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
        rows = [
            dict(zip(names, v, strict=True)) for v in ((5.1, 3.5, 1.4, 0.2), (6.7, 3.0, 5.2, 2.3))
        ]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=json.dumps({"rows": rows}).encode(),
            headers={"Content-Type": "application/json"},
        )
        body = None
        for _ in range(240):
            if server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.5)
        assert body == [0.0, 2.0], server.stdout.read() if server.poll() is not None else body
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the image ------------------------------------------------------------------------------


def layers(image: str, docker_host: str) -> list[str]:
    out = docker(
        "image", "inspect", "--format", "{{json .RootFS.Layers}}", image, docker_host=docker_host
    )
    return list(json.loads(out.stdout))


def test_the_image_builds_runs_main_as_a_user_and_reuses_the_requirements_layer(
    tmp_path: Path, docker_host: str, base_image: str, wheelhouse: str
) -> None:
    project = new_project(tmp_path)
    tag = f"somlier-test/scaffold-{os.getpid()}"
    build = [
        "build", "--network", "host",
        "--build-arg", f"BASE_IMAGE={base_image}",
        # no index but the wheelhouse: a 404 there means "no such project"
        "--build-arg", f"PIP_INDEX_URL={wheelhouse}/no-index/",
        "--build-arg", f"PIP_FIND_LINKS={wheelhouse}/",
    ]  # fmt: skip
    try:
        docker(*build, "-t", f"{tag}:one", str(project), docker_host=docker_host, timeout=1800)
        done = docker("run", "--rm", "--network", "none", f"{tag}:one", docker_host=docker_host)
        assert [(r["name"], r["stdout"]) for r in records(done.stdout)] == [
            ("main", "hello world!!\n")
        ]
        who = docker(
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "id",
            f"{tag}:one",
            docker_host=docker_host,
        )
        assert who.stdout.startswith("uid=10001(app)")

        # A change of the code alone: the packages' layers are reused, only the code's differs.
        (project / "main.py").write_text('print("changed")\n')
        docker(*build, "-t", f"{tag}:two", str(project), docker_host=docker_host, timeout=600)
        one, two = layers(f"{tag}:one", docker_host), layers(f"{tag}:two", docker_host)
        assert len(one) == len(two) and one[:-1] == two[:-1] and one[-1] != two[-1]
        done = docker("run", "--rm", "--network", "none", f"{tag}:two", docker_host=docker_host)
        assert [r["stdout"] for r in records(done.stdout)] == ["changed\n"]
    finally:
        docker("rmi", "--force", f"{tag}:one", f"{tag}:two", docker_host=docker_host, check=False)


# --- init and the monorepo ------------------------------------------------------------------


def test_init_makes_the_environment_installs_requirements_and_the_hook(tmp_path: Path) -> None:
    ok(run(SOMLIER, "new-monorepo", "mono", cwd=tmp_path))
    project = new_project(tmp_path / "mono" / "projects")
    (project / "requirements.txt").write_text("six\n")  # small: the template's are tested above
    done = ok(run(SOMLIER, "init", "--system-site-packages", cwd=project, timeout=600))
    assert "Ready: source .venv/bin/activate" in done.stdout
    cfg = dict(
        line.split(" = ", 1)
        for line in (project / ".venv/pyvenv.cfg").read_text().splitlines()
        if " = " in line
    )
    assert cfg["include-system-site-packages"] == "true"
    ok(run(project / ".venv/bin/python", "-c", "import six", cwd=project))
    hook = tmp_path / "mono/.git/hooks/pre-commit"
    assert hook.is_file() and "pre-commit" in hook.read_text()
    # Again: the environment is reused, nothing breaks.
    done = ok(run(SOMLIER, "init", "--no-hooks", "--no-requirements", cwd=project))
    assert "exists: reused" in done.stdout


def test_the_monorepo_makefile_targets_work(tmp_path: Path, somlier_wheel: Path) -> None:
    ok(run(SOMLIER, "new-monorepo", "mono", "--projects-repo", "acme/ml-projects", cwd=tmp_path))
    mono = tmp_path / "mono"
    venv = tmp_path / "venv"
    ok(run(sys.executable, "-m", "venv", venv, cwd=tmp_path))
    env = env_with(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    make = ("make", f"PYTHON={venv / 'bin/python'}", f"SOMLIER={venv / 'bin/somlier'}")

    # make install: somlier (this checkout's wheel) and pre-commit, and the git hook
    ok(
        run(
            *make, "install", f"SOMLIER_REQUIREMENT={somlier_wheel}", cwd=mono, env=env, timeout=900
        )
    )
    assert (mono / ".git/hooks/pre-commit").is_file()

    ok(
        run(
            *make,
            "new-project",
            "ARGS=--no-input --project-name churn "
            + " ".join(f"'{a}'" if " " in a else a for a in ANSWERS),
            cwd=mono,
            env=env,
        )
    )
    project = mono / "projects/churn"
    assert (project / "somlier.yaml").is_file()
    ok(run(*make, "validate", cwd=mono, env=env))

    (project / "requirements.txt").write_text("")
    ok(
        run(
            *make,
            "init",
            "project=projects/churn",
            "INIT_ARGS=--no-hooks",
            cwd=mono,
            env=env,
            timeout=600,
        )
    )
    assert (project / ".venv/bin/python").is_file()

    done = run(*make, "build", "project=projects/churn", cwd=mono, env=env)
    assert done.returncode != 0 and "usage: make build" in done.stderr
    (project / "train.py").unlink()
    ok(
        run(
            *make,
            "build",
            "project=projects/churn",
            "file=notebooks/example/example.ipynb",
            cwd=mono,
            env=env,
        )
    )
    script = (project / "train.py").read_text()
    assert "# !python --version" in script.splitlines()
    compile(script, "train.py", "exec")

    # The pre-commit hook (somlier validate) refuses a broken somlier.yaml.
    ok(run("git", "add", "-A", cwd=mono, env=env))
    ok(run("git", "commit", "-q", "-m", "churn", cwd=mono, env=env, timeout=300))
    broken = (project / "somlier.yaml").read_text().replace("version: v0.0.1", "version: 0.0.1")
    (project / "somlier.yaml").write_text(broken)
    ok(run("git", "add", "-A", cwd=mono, env=env))
    done = run("git", "commit", "-q", "-m", "broken", cwd=mono, env=env, timeout=300)
    assert done.returncode != 0
    assert "a version starts with" in done.stdout + done.stderr


def test_profiles_render_and_validate(tmp_path: Path) -> None:
    out = tmp_path / "values.yaml"
    done = ok(
        run(
            SOMLIER,
            "notebook-profiles",
            "-C",
            ROOT / "examples/ml-projects",
            "-o",
            out,
            cwd=tmp_path,
        )
    )
    assert "40 pod manifests validated" in done.stdout
    values = yaml.safe_load(out.read_text())
    single = values["singleuser"]
    assert [p["display_name"] for p in single["profileList"]] == [
        "CPU 4 cores / Memory 16 GiB",
        "CPU 8 cores / Memory 32 GiB",
    ]
    t4 = single["profileList"][0]["profile_options"]["gpu"]["choices"]["nvidia-tesla-t4-2"]
    assert t4["kubespawner_override"]["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    assert values["cull"] == {"enabled": True, "timeout": 1800, "every": 300}
    done = run(
        SOMLIER, "notebook-profiles", "-C", ROOT / "examples/ml-projects", "-o", out, cwd=tmp_path
    )
    assert done.returncode == 2 and "--force" in done.stderr


def test_the_tutorial_flow_runs_on_a_new_project(tmp_path: Path) -> None:
    """docs/tutorial.md, step by step: monorepo, project, commit, train, register, serve, DAG."""
    ok(run(SOMLIER, "new-monorepo", "ml-projects", cwd=tmp_path))
    mono = tmp_path / "ml-projects"
    ok(
        run(
            SOMLIER,
            "new-project",
            "-o",
            "projects",
            "--no-input",
            "--name",
            "nuj-project",
            cwd=mono,
        )
    )
    ok(run("git", "add", "-A", cwd=mono))
    ok(run("git", "commit", "-q", "--no-verify", "-m", "nuj-project", cwd=mono))
    env = env_with(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")

    done = ok(run(SOMLIER, "online", "train", "projects/nuj-project", "main", "--github_uri", mono,
                  "-P", "C=0.5", "--json", cwd=mono, env=env, timeout=600))  # fmt: skip
    [trained] = json.loads(done.stdout)
    assert trained["status"] == "FINISHED" and trained["params"] == {"C": "0.5"}

    done = ok(
        run(SOMLIER, "online", "register", trained["run_id"], "nuj-project", cwd=mono, env=env)
    )
    assert "model version: 1" in done.stdout

    done = ok(run(SOMLIER, "online", "deploy", "nuj-project", "1", "--once", "--port", "0",
                  cwd=mono, env=env, timeout=600))  # fmt: skip
    assert '"predictions"' in done.stdout

    dags = tmp_path / "dags"
    ok(run(SOMLIER, "offline", "create", "127.0.0.1:5000/ml-nuj-project:latest", "0 9 * * *",
           "run main", "nuj_tutorial", "--output-dir", dags, cwd=mono))  # fmt: skip
    compile((dags / "nuj_tutorial.py").read_text(), "nuj_tutorial.py", "exec")
