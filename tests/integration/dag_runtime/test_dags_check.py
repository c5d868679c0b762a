"""``somlier dags check`` against a real Airflow 3 DagBag (no database), through ``main()``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.dags.runtime import INSTALL_HINT
from tests.integration.dag_runtime.contract import GPU_SELECTOR, GPU_TOLERATIONS, MLFLOW

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SOMLIER = Path(sys.executable).parent / "somlier"
GOLDENS = sorted((ROOT / "tests" / "data" / "dags").glob("*.py"))


def test_contract_dags_import_and_their_pods_are_built(dags_repo, contract_dag, check) -> None:
    repo = dags_repo(
        {
            "dags/churn-model/churn_daily.py": contract_dag("churn_daily"),
            "dags/churn-model/churn_mlops.py": contract_dag(
                "churn_mlops", mlflow=MLFLOW, slack_on_failure=True, secrets=[]
            ),
            "dags/churn-model/churn_gpu.py": contract_dag(
                "churn_gpu",
                command=["run", "train"],
                cpu=None,
                memory=None,
                gpu_type="nvidia-tesla-t4",
                num_of_gpus=1,
                node_selector=GPU_SELECTOR,
                tolerations=GPU_TOLERATIONS,
            ),
        }
    )
    code, out, err = check(repo)
    assert (code, out) == (0, ""), err
    assert err.strip().endswith(
        "3 DAG files, 3 DAGs imported by Airflow 3.3.2: 0 errors, 0 warnings"
    )

    code, out, _ = check(repo, "--json")
    report = json.loads(out)
    assert (code, report["ok"], report["errors"], report["warnings"]) == (0, True, 0, 0)
    assert report["problems"] == []
    assert report["airflow_version"] == "3.3.2"
    shown = str(repo)
    assert report["dag_folder"] == f"{shown}/dags"
    dags = {d["dag_id"]: d for d in report["dags"]}
    assert sorted(dags) == ["churn_daily", "churn_gpu", "churn_mlops"]
    assert dags["churn_daily"]["path"] == f"{shown}/dags/churn-model/churn_daily.py"
    assert dags["churn_daily"]["line"] == 5
    (task,) = dags["churn_daily"]["tasks"]
    assert task["operator"] == "operators.mlops_offline_operator.MLOpsOfflineOperator"
    assert (task["task_id"], task["line"], task["num_of_gpus"]) == ("run", 15, 0)
    pod = task["pod"]
    assert pod["name"].startswith("churn-model-")
    del pod["name"]  # a random suffix
    assert pod == {
        "namespace": "mlops",
        "labels": {
            "app.kubernetes.io/name": "churn-model",
            "app.kubernetes.io/managed-by": "somlier",
            "airflow_version": "3.3.2",
        },
        "image": "reg.example.com/ml/churn-model:sha-abc1234",
        "command": ["somlier", "config"],  # the contract, whatever the image's ENTRYPOINT
        "args": ["run", "main"],
        "working_dir": None,
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4Gi"},
        "env": [],
        "env_from_secrets": ["mlops-secrets"],
        "node_selector": {},
        "tolerations": [],
        "containers": 1,
    }
    mlops = dags["churn_mlops"]["tasks"][0]["pod"]
    assert mlops["env"] == ["MLFLOW_TRACKING_URI", "MODEL_ALIAS", "MODEL_NAME"]
    assert mlops["env_from_secrets"] == []
    gpu = dags["churn_gpu"]["tasks"][0]
    assert (gpu["num_of_gpus"], gpu["gpu_type"]) == (1, "nvidia-tesla-t4")
    assert gpu["pod"]["limits"] == {"nvidia.com/gpu": "1"}
    assert gpu["pod"]["requests"] == {}
    assert gpu["pod"]["node_selector"] == GPU_SELECTOR
    assert gpu["pod"]["tolerations"] == GPU_TOLERATIONS
    assert gpu["pod"]["args"] == ["run", "train"]


def test_broken_files_are_reported_with_file_and_line(dags_repo, contract_dag, check) -> None:
    good = contract_dag("ok_daily")
    repo = dags_repo(
        {
            "dags/p/ok.py": good,
            # a syntax error: line and column from the compiler
            "dags/p/syntax.py": good.replace("catchup=False,", "catchup=False"),
            # an exception at import time, in the DAG file itself
            "dags/p/name_error.py": "from airflow import DAG\n\nx = 1\nundefined_name\n",
            # a module that is not there
            "dags/p/missing.py": "import airflow\nimport no_such_module_here  # dag\n",
            # the operator refuses an argument: the line of the call
            "dags/p/bad_arg.py": contract_dag("bad_arg", num_of_gpus=-1),
            "dags/p/str_command.py": contract_dag("str_command", command="run main"),
        }
    )
    code, out, err = check(repo)
    assert code == 2, err
    at = f"{repo}/dags/p/"
    assert out.splitlines() == [
        f"{at}bad_arg.py:15: error: ValueError: num_of_gpus must be an integer >= 0, not -1",
        f"{at}missing.py:2: error: ModuleNotFoundError: No module named 'no_such_module_here'",
        f"{at}name_error.py:4: error: NameError: name 'undefined_name' is not defined",
        f"{at}str_command.py:15: error: TypeError: command must be a list of strings, "
        "not str: 'run main'",
        f"{at}syntax.py:9:13: error: SyntaxError: invalid syntax. Perhaps you forgot a comma?",
    ]
    assert err.strip().endswith(
        "6 DAG files, 1 DAG imported by Airflow 3.3.2: 5 errors, 0 warnings"
    )


def test_duplicate_dag_ids_are_errors_whichever_file_airflow_reads_first(
    dags_repo, contract_dag, check
) -> None:
    repo = dags_repo(
        {
            "dags/a/first.py": contract_dag("shared_id"),
            "dags/b/second.py": contract_dag("shared_id", project_name="other-project"),
            "dags/b/third.py": contract_dag("unique_id"),
        }
    )
    code, out, _ = check(repo)
    assert code == 2
    assert out.splitlines() == [
        f"{repo}/dags/b/second.py:5: error: dag_id 'shared_id' is defined in "
        f"{repo}/dags/a/first.py:5 too (Airflow keeps one of them)"
    ]
    code, out, _ = check(repo, "--json")
    problems = json.loads(out)["problems"]
    assert [(p["code"], p["severity"], p["line"]) for p in problems] == [
        ("duplicate-dag-id", "error", 5)
    ]


def test_latest_and_untagged_images_are_warnings(dags_repo, contract_dag, check) -> None:
    repo = dags_repo(
        {
            "dags/p/latest.py": contract_dag(
                "latest_daily", ml_project_docker_image="reg.example.com:5000/ml/p:latest"
            ),
            "dags/p/untagged.py": contract_dag(
                "untagged_daily", ml_project_docker_image="reg.example.com:5000/ml/p"
            ),
            "dags/p/pinned.py": contract_dag(
                "pinned_daily", ml_project_docker_image="reg.example.com/ml/p@sha256:" + "a" * 64
            ),
        }
    )
    code, out, err = check(repo)
    assert code == 0, err
    tail = ": a retry or a rerun may run other code; use the sha-… tag somlier builds"
    assert out.splitlines() == [
        f"{repo}/dags/p/latest.py:15: warning: task 'run' runs image "
        f"'reg.example.com:5000/ml/p:latest'{tail}",
        f"{repo}/dags/p/untagged.py:15: warning: task 'run' runs image "
        f"'reg.example.com:5000/ml/p' without a tag (so 'latest'){tail}",
    ]
    assert err.strip().endswith("0 errors, 2 warnings")


def test_gpu_jobs_are_checked_from_the_pod_they_would_create(
    dags_repo, contract_dag, check
) -> None:
    gpu = {"gpu_type": "nvidia-tesla-t4", "num_of_gpus": 2, "tolerations": GPU_TOLERATIONS}
    repo = dags_repo(
        {
            "dags/p/gpu_ok.py": contract_dag("gpu_ok", node_selector=GPU_SELECTOR, **gpu),
            "dags/p/gpu_no_selector.py": contract_dag("gpu_no_selector", **gpu),
        }
    )
    code, out, _ = check(repo)
    assert code == 2
    assert out.splitlines() == [
        f"{repo}/dags/p/gpu_no_selector.py:15: error: task 'run': asks for 2 GPU(s) "
        "(nvidia-tesla-t4) but its pod has no node selector: it may wait forever for a GPU node, "
        "or land on a node without the GPU type"
    ]

    # An operators package gone stale in the dags repo (here: one that forgets the GPU limit)
    # is caught from the pod it builds, not from what the DAG file says.
    operator = repo / "operators" / "mlops_offline_operator.py"
    source = operator.read_text()
    forgetful = source.replace("limits[GPU_RESOURCE] = str(self.num_of_gpus)", "pass")
    assert forgetful != source
    operator.write_text(forgetful)
    code, out, _ = check(repo, "--json")
    assert code == 2
    problems = [
        (p["path"], p["line"], p["code"], p["message"]) for p in json.loads(out)["problems"]
    ]
    assert problems == [
        (
            f"{repo}/dags/p/gpu_no_selector.py",
            15,
            "gpu-limit",
            "task 'run': asks for 2 GPU(s), its pod has no limit on nvidia.com/gpu",
        ),
        (
            f"{repo}/dags/p/gpu_no_selector.py",
            15,
            "gpu-node-selector",
            "task 'run': asks for 2 GPU(s) (nvidia-tesla-t4) but its pod has no node selector: "
            "it may wait forever for a GPU node, or land on a node without the GPU type",
        ),
        (
            f"{repo}/dags/p/gpu_ok.py",
            15,
            "gpu-limit",
            "task 'run': asks for 2 GPU(s), its pod has no limit on nvidia.com/gpu",
        ),
    ]


def test_paths_are_shown_as_the_user_spelled_the_folder(
    dags_repo, contract_dag, airflow_python
) -> None:
    repo = dags_repo({"dags/p/latest.py": contract_dag("x", ml_project_docker_image="r/p:latest")})

    def somlier(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SOMLIER), "dags", "check", *args, "--airflow-python", str(airflow_python)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    done = somlier(repo)  # the default folder: here
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "dags/p/latest.py:15: warning: task 'run' runs image 'r/p:latest'"
    )
    done = somlier(repo / "dags", "p")  # a folder of DAG files: operators/ is found above it
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("p/latest.py:15: warning:")


def test_a_folder_without_dags_is_a_warning(dags_repo, check) -> None:
    repo = dags_repo({"README.md": "nothing here\n"})
    code, out, err = check(repo)
    assert code == 0, err
    assert out == f"{repo}: warning: no DAG found here\n"


@pytest.mark.parametrize("golden", GOLDENS, ids=[p.name for p in GOLDENS])
def test_rendered_goldens_import_without_errors(golden: Path, dags_repo, check) -> None:
    repo = dags_repo({f"dags/p/{golden.name}": golden.read_text(encoding="utf-8")})
    code, out, _ = check(repo, "--json")
    report = json.loads(out)
    assert (code, report["errors"]) == (0, 0), report["problems"]
    assert len(report["dags"]) == 1 and report["dags"][0]["tasks"][0]["pod"] is not None


def test_no_airflow_is_a_user_error_that_says_how_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "python"
    assert main(["dags", "check", str(tmp_path), "--airflow-python", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"error: {missing}: no such Airflow python" in err
    assert f"hint: {INSTALL_HINT}" in err and ".ci/airflow.sh" in err

    monkeypatch.setenv("SOMLIER_AIRFLOW_PYTHON", sys.executable)  # somlier's own: no airflow
    assert main(["dags", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {sys.executable} cannot import airflow" in err
    assert "Traceback" not in err


def test_a_missing_folder_is_a_user_error(tmp_path: Path, capsys, airflow_python) -> None:
    code = main(["dags", "check", str(tmp_path / "nope"), "--airflow-python", str(airflow_python)])
    assert code == 2
    assert "error: " in capsys.readouterr().err


def test_a_broken_operators_package_is_named_in_each_dag_s_error(
    dags_repo, contract_dag, check
) -> None:
    repo = dags_repo({"dags/p/a.py": contract_dag("a"), "dags/p/b.py": contract_dag("b")})
    operator = repo / "operators" / "mlops_offline_operator.py"
    text = operator.read_text()
    operator.write_text(text + "\ndef broken(:\n    pass\n")
    bad_line = text.count("\n") + 2
    code, out, _ = check(repo)
    assert code == 2
    where = f"(in {repo}/operators/mlops_offline_operator.py:{bad_line}, which this file imports)"
    assert out.splitlines() == [
        f"{repo}/dags/p/{name}.py:3: error: SyntaxError: invalid syntax {where}"
        for name in ("a", "b")
    ]
