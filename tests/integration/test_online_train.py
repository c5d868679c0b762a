"""``somlier online train`` / ``online register`` through the real entry point, against real git
repositories and a real MLflow (a SQLite store, and ``mlflow server`` on 127.0.0.1 where the HTTP
path matters): the grid, run tags and statuses, failures, Ctrl-C, checkouts from URLs and local
paths, the tracking-URI precedence, --k8s Jobs, and registering MLflow 3 and classic models."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.git import GitRepo, MakeRepo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ml-projects"
BIN = Path(sys.executable).parent
SOMLIER = BIN / "somlier"

TINY_TRAIN = """\
import argparse, os, sys, time
p = argparse.ArgumentParser()
for name in ("fail", "x", "sleep", "log", "experiment"):
    p.add_argument("--" + name, default="0")
a = p.parse_args()
run_id = "none"
if a.log == "yes":  # the script starts its run (in an experiment of its own, if asked)
    import mlflow
    if a.experiment != "0":
        mlflow.set_experiment(a.experiment)
    run_id = mlflow.start_run().info.run_id  # ended by MLflow when the script exits
    mlflow.log_metric("m", float(a.x))
print(f"run={run_id} fail={a.fail} x={a.x}", flush=True)
if float(a.sleep):
    print("sleeping", flush=True)
    time.sleep(float(a.sleep))
sys.exit(3 if a.fail == "yes" else 0)
"""
TINY = {
    "projects/tiny/somlier.yaml": (
        "project: {name: tiny}\n"
        "model: {name: tiny, version: v1.0.0}\n"
        "entrypoints:\n"
        "  train: {command: python, args: [train.py]}\n"
    ),
    "projects/tiny/requirements.txt": "",
    "projects/tiny/train.py": TINY_TRAIN,
}


def somlier(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    full.pop("MLFLOW_TRACKING_URI", None)
    full.update(env or {})
    return subprocess.run(
        [str(SOMLIER), *args], cwd=cwd, capture_output=True, text=True, env=full, timeout=timeout
    )


def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(uri, registry_uri=uri)


@pytest.fixture
def mono(make_repo: MakeRepo) -> GitRepo:
    """A monorepo with the tiny project; tag v1 on its first commit."""
    repo = make_repo("mono")
    repo.commit("tiny", TINY)
    repo.git("tag", "v1")
    return repo


def test_grid_runs_every_combination_tags_them_and_fails_after_all(
    mono: GitRepo, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'grid.db'}"
    done = somlier(
        "online", "train", "projects/tiny", "main", "-P", "fail=no,yes", "-P", "x=1,2",
        "-P", "log=yes", "--json", cwd=mono.path, env={"MLFLOW_TRACKING_URI": uri},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)
    assert [(r["params"], r["status"]) for r in results] == [
        ({"fail": "no", "x": "1", "log": "yes"}, "FINISHED"),
        ({"fail": "no", "x": "2", "log": "yes"}, "FINISHED"),
        ({"fail": "yes", "x": "1", "log": "yes"}, "FAILED"),
        ({"fail": "yes", "x": "2", "log": "yes"}, "FAILED"),
    ]
    assert {r["tracking_uri"] for r in results} == {uri}
    # the child's output went to stderr, as records; the runs it started are the results
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    seen = [rec["stdout"].strip() for rec in lines if rec.get("name") == "train"]
    assert seen == [
        f"run={r['run_id']} fail={r['params']['fail']} x={r['params']['x']}" for r in results
    ]
    mlflow = client(uri)
    experiment = mlflow.get_experiment_by_name("tiny")
    assert {r["experiment_id"] for r in results} == {experiment.experiment_id}
    head = mono.rev("main")
    for result in results:
        run = mlflow.get_run(result["run_id"])
        assert run.info.status == result["status"]  # a failed script's run is FAILED
        assert run.data.params == result["params"]
        assert run.data.metrics == {"m": float(result["params"]["x"])}
        tags = run.data.tags
        assert tags["somlier.commit"] == head == tags["mlflow.source.git.commit"]
        assert (tags["somlier.ref"], tags["somlier.project"]) == ("main", "tiny")


def test_text_output_names_each_run_and_the_summary(mono: GitRepo, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'text.db'}"
    done = somlier(
        "online", "train", "tiny", "v1", "-P", "x=5", cwd=mono.path,
        env={"MLFLOW_TRACKING_URI": uri},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = (
        client(uri)
        .search_runs([client(uri).get_experiment_by_name("tiny").experiment_id])[0]
        .info.run_id
    )
    out = done.stdout.splitlines()
    assert f"run 1/1: run_id: {run_id}  status: FINISHED  params: x=5" in out
    assert out[-1] == f"1 of 1 runs in experiment tiny (id 1) at {uri}: 1 FINISHED"


def test_default_store_settings_and_environment_precedence(mono: GitRepo, tmp_path: Path) -> None:
    def planned(env: dict[str, str] | None = None) -> dict[str, Any]:
        done = somlier(
            "online", "train", "tiny", "main", "--dry-run", "--json", cwd=mono.path, env=env
        )
        assert done.returncode == 0, done.stderr
        body: dict[str, Any] = json.loads(done.stdout)
        return body

    default = planned()
    assert default["tracking_uri"] == f"sqlite:///{mono.path}/.somlier/mlflow.db"
    assert default["runs"] == [{"params": {}, "argv": ["python", "train.py"]}]
    assert not (mono.path / ".somlier" / "mlflow.db").exists()  # a dry run creates nothing
    (mono.path / ".somlier").mkdir()
    (mono.path / ".somlier" / "platform.yaml").write_text(
        "mlflow: {tracking_uri: 'http://settings.example:5000'}\n"
    )
    assert planned()["tracking_uri"] == "http://settings.example:5000"
    secret = {"MLFLOW_TRACKING_URI": "https://user:s3cret@env.example"}
    assert planned(secret)["tracking_uri"] == "https://***@env.example"


def test_default_store_keeps_artifacts_beside_it(mono: GitRepo) -> None:
    done = somlier("online", "train", "tiny", "main", "-P", "log=yes", "-P", "x=3", cwd=mono.path)
    assert done.returncode == 0, done.stderr
    uri = f"sqlite:///{mono.path}/.somlier/mlflow.db"
    [run] = client(uri).search_runs([client(uri).get_experiment_by_name("tiny").experiment_id])
    # the child resumed the run somlier created: its metric is on it, the run is FINISHED
    assert run.data.metrics == {"m": 3.0} and run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith((mono.path / ".somlier" / "mlartifacts").as_uri())


def test_a_script_that_sets_its_own_experiment_trains_and_its_run_is_tagged(
    mono: GitRepo, tmp_path: Path
) -> None:
    """The notebook's way: mlflow.set_experiment(NAME) then mlflow.start_run(); a run id left
    in the caller's environment changes nothing."""
    uri = f"sqlite:///{tmp_path / 'own.db'}"
    done = somlier(
        "online", "train", "tiny", "main", "-P", "log=yes", "-P", "experiment=elsewhere",
        "-P", "x=2", "--json", cwd=mono.path,
        env={"MLFLOW_TRACKING_URI": uri, "MLFLOW_RUN_ID": "0" * 32},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    mlflow = client(uri)
    run = mlflow.get_run(result["run_id"])
    assert mlflow.get_experiment(run.info.experiment_id).name == "elsewhere"
    assert result["experiment_id"] == run.info.experiment_id
    assert (run.info.status, run.data.metrics) == ("FINISHED", {"m": 2.0})
    assert run.data.params == {"log": "yes", "experiment": "elsewhere", "x": "2"}
    tags = run.data.tags
    assert (tags["somlier.commit"], tags["somlier.ref"], tags["somlier.project"]) == (
        mono.rev("main"), "main", "tiny"
    )  # fmt: skip
    # the script's run is the only one: none was made for it in the project's experiment
    assert mlflow.search_runs([mlflow.get_experiment_by_name("tiny").experiment_id]) == []
    records = [json.loads(line) for line in done.stderr.splitlines() if line[:1] == "{"]
    seen = [r["stdout"] for r in records if "stdout" in r]
    assert seen == [f"run={result['run_id']} fail=0 x=2\n"]


def test_a_script_that_never_calls_mlflow_still_leaves_a_tagged_run(
    mono: GitRepo, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'none.db'}"
    done = somlier(
        "online", "train", "tiny", "main", "-P", "x=7", "-P", "fail=yes", "--json",
        cwd=mono.path, env={"MLFLOW_TRACKING_URI": uri},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    [result] = json.loads(done.stdout)
    run = client(uri).get_run(result["run_id"])
    assert (run.info.status, result["status"]) == ("FAILED", "FAILED")
    assert run.data.params == {"x": "7", "fail": "yes"}
    assert run.data.tags["somlier.commit"] == mono.rev("main")


def test_checkout_from_url_by_tag_and_sha_and_local_short_sha(
    mono: GitRepo, make_repo: MakeRepo, tmp_path: Path
) -> None:
    first = mono.rev("v1")
    second = mono.commit("change", {"projects/tiny/train.py": TINY_TRAIN + "# v2\n"})
    origin = make_repo("origin", bare=True)
    mono.git("push", "-q", str(origin.path), "main", "v1")
    url = f"file://{origin.path}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = [(url, "v1", first), (url, "main", second), (url, first, first),
             (str(mono.path), first[:8], first), (str(mono.path), "main", second),
             (str(origin.path), "main", second), (str(origin.path), "v1", first)]  # fmt: skip
    for source, ref, commit in cases:
        done = somlier(
            "online", "train", "projects/tiny", ref, "--github_uri", source, "--dry-run", "--json",
            cwd=elsewhere,
        )  # fmt: skip
        assert done.returncode == 0, (source, ref, done.stderr)
        tags = json.loads(done.stdout)["tags"]
        assert (tags["somlier.commit"], tags["somlier.ref"]) == (commit, ref)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tiny", "no-such-branch"], "error: no commit 'no-such-branch' in "),
        (["nope", "main"], "error: no project 'nope' at that ref\nhint: projects: projects/tiny"),
        (["tiny", "main", "-e", "fit"], "error: no entrypoint 'fit' in "),
        (["tiny", "main", "--github_uri", "https://u:s3cret@127.0.0.1:9/x.git"],
         "error: cannot fetch 'main' from https://***@127.0.0.1:9/x.git"),
    ],
)  # fmt: skip
def test_wrong_input_exits_2_without_traceback_or_secret(
    mono: GitRepo, tmp_path: Path, args: list[str], message: str
) -> None:
    done = somlier("online", "train", *args, cwd=mono.path, env={
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'x.db'}"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and "s3cret" not in done.stdout + done.stderr
    assert not (tmp_path / "x.db").exists()  # nothing was recorded


def test_interrupt_kills_the_run_and_stops_the_grid(mono: GitRepo, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'int.db'}"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": uri,
    }
    child = subprocess.Popen(
        [str(SOMLIER), "online", "train", "tiny", "main", "-P", "sleep=60", "-P", "x=1,2"],
        cwd=mono.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if "sleeping" in line:
                break
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 130
    finally:
        if child.poll() is None:
            child.kill()
    mlflow = client(uri)
    runs = mlflow.search_runs([mlflow.get_experiment_by_name("tiny").experiment_id])
    assert [(r.info.status, r.data.params) for r in runs] == [("KILLED", {"sleep": "60", "x": "1"})]


def test_k8s_jobs_are_printed_validated_and_written(mono: GitRepo, tmp_path: Path) -> None:
    platform = mono.path / ".somlier" / "platform.yaml"
    platform.parent.mkdir()
    platform.write_text(
        "mlflow: {tracking_uri: 'http://mlflow.mlops.svc:5000'}\n"
        "registry: {url: 'registry.example/ml'}\n"
        "kubernetes: {version: '1.30'}\n"
        "gpu_types:\n"
        "  t4: {node_selector: {gpu: t4}, tolerations: [{key: gpu, operator: Exists}]}\n"
    )
    head = mono.rev("main")
    args = ["online", "train", "tiny", "main", "--k8s", "-P", "x=1,2", "--gpu_type", "t4"]
    done = somlier(*args, cwd=mono.path)
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    assert [d["metadata"]["name"] for d in docs] == [
        f"tiny-train-{head[:7]}-1",
        f"tiny-train-{head[:7]}-2",
    ]
    pod = docs[1]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "t4"}
    assert pod["containers"][0]["image"] == f"registry.example/ml/tiny:sha-{head[:7]}"
    assert pod["containers"][0]["command"] == ["python", "train.py", "--x", "2"]
    written = tmp_path / "jobs.yaml"
    done = somlier(*args, "-o", str(written), "--json", cwd=mono.path)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["output"] == str(written) and list(yaml.safe_load_all(written.read_text())) == docs
    assert [j["params"] for j in body["jobs"]] == [{"x": "1"}, {"x": "2"}]
    dry = somlier(*args, "-o", str(tmp_path / "not.yaml"), "--dry-run", cwd=mono.path)
    assert dry.returncode == 0 and not (tmp_path / "not.yaml").exists()
    assert list(yaml.safe_load_all(dry.stdout)) == docs


def test_churn_example_trains_a_model_that_registers_with_an_alias(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo("ml-projects")
    shutil.copytree(EXAMPLES, repo.path, dirs_exist_ok=True)
    repo.commit("the monorepo")
    uri = f"sqlite:///{tmp_path / 'churn.db'}"
    env = {"MLFLOW_TRACKING_URI": uri}
    done = somlier(
        "online", "train", "projects/churn-model", "main", "--json", cwd=repo.path, env=env
    )
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert result["status"] == "FINISHED"
    mlflow = client(uri)
    run = mlflow.get_run(result["run_id"])
    assert run.data.metrics["roc_auc"] > 0.6
    [logged] = mlflow.search_logged_models([result["experiment_id"]])
    assert logged.artifact_location.startswith((tmp_path / "mlartifacts").as_uri())
    assert logged.source_run_id == result["run_id"]
    from mlflow.models import Model

    # the model landed in the store's artifact folder, with a signature and an input example
    saved = Model.load(urllib.parse.urlsplit(logged.artifact_location).path)
    assert saved.signature is not None and saved.saved_input_example_info is not None
    assert [c.name for c in saved.signature.inputs.inputs] == [
        "tenure_months", "monthly_charges", "support_calls", "contract_months"
    ]  # fmt: skip

    reg = somlier("online", "register", result["run_id"], "churn-model", "--alias", "champion",
                  cwd=repo.path, env=env)  # fmt: skip
    assert reg.returncode == 0, reg.stderr
    assert reg.stdout == "model version: 1\n"
    # what to do next, on stderr: stdout stays the one line scripts read
    next_step = "Next: somlier online deploy churn-model 1 --once   # try it locally"
    assert reg.stderr.splitlines()[-1] == next_step
    assert str(mlflow.get_model_version_by_alias("churn-model", "champion").version) == "1"
    again = somlier("online", "register", result["run_id"], "churn-model", "--json",
                    cwd=repo.path, env=env)  # fmt: skip
    assert json.loads(again.stdout)["version"] == "2" and "Next:" not in again.stderr
    assert mlflow.get_model_version("churn-model", "2").source == f"models:/{logged.model_id}"


def test_over_http_runs_resume_and_credentials_never_show(
    mono: GitRepo, mlflow_server: str, tmp_path: Path
) -> None:
    with_secret = mlflow_server.replace("http://", "http://user:s3cret@")
    env = {"MLFLOW_TRACKING_URI": with_secret}
    done = somlier(
        "online", "train", "tiny", "main", "-P", "log=yes", "-P", "x=4", cwd=mono.path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    assert "http://***@127.0.0.1:" in done.stdout
    mlflow = client(mlflow_server)
    [run] = mlflow.search_runs([mlflow.get_experiment_by_name("tiny").experiment_id])
    assert run.data.metrics == {"m": 4.0} and run.info.status == "FINISHED"
    assert f"Next: somlier online register {run.info.run_id} tiny\n" in done.stderr

    # a run without a model, and an unknown run: clear errors, exit 2, no secret
    for run_id, message in [
        (run.info.run_id, f"error: run {run.info.run_id} has no model to register"),
        ("f" * 32, f"error: no run {'f' * 32} in http://***@127.0.0.1:"),
    ]:
        reg = somlier("online", "register", run_id, "tiny-model", cwd=mono.path, env=env)
        assert reg.returncode == 2 and message in reg.stderr, reg.stderr
        assert "s3cret" not in reg.stdout + reg.stderr and "Traceback" not in reg.stderr


def test_over_http_a_classic_model_folder_registers(
    mlflow_server: str, tmp_path: Path, git_repo: GitRepo
) -> None:
    """A run that logged its model the MLflow 2 way (artifacts with an MLmodel file)."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    saved = tmp_path / "saved"
    mlflow.sklearn.save_model(DummyClassifier().fit([[0.0], [1.0]], [0, 1]), saved)
    api = client(mlflow_server)
    experiment = api.create_experiment("classic")
    run = api.create_run(experiment)
    api.log_artifacts(run.info.run_id, str(saved), "sk")
    api.set_terminated(run.info.run_id)
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    reg = somlier(
        "online", "register", run.info.run_id, "classic-model", "--json", cwd=git_repo.path, env=env
    )
    assert reg.returncode == 0, reg.stderr
    body = json.loads(reg.stdout)
    assert (body["version"], body["source"]) == ("1", f"runs:/{run.info.run_id}/sk")
    assert api.get_model_version("classic-model", "1").run_id == run.info.run_id


def test_the_cli_module_imports_no_mlflow() -> None:
    code = (
        "import sys, pipeline.cli.online_train_cmd\n"
        "heavy = ('mlflow', 'jinja2', 'kubernetes_validate')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
