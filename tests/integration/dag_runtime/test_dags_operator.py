"""``MLOpsOfflineOperator`` in a real Airflow 3: cheap to parse, and its task runs the pod through
the cncf.kubernetes provider (against a fake Kubernetes API on loopback) and alerts Slack (a
fake incoming webhook on loopback) when it fails."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.dags.runtime import airflow_env
from tests.integration.dag_runtime.contract import GPU_SELECTOR, GPU_TOLERATIONS, MLFLOW
from tests.integration.dag_runtime.fake_kube import FakeKube

pytestmark = pytest.mark.integration

PROVIDER = "airflow.providers.cncf.kubernetes.operators.pod"


def in_airflow(
    python: Path, repo: Path, code: str, tmp_path: Path, env: Mapping[str, str] = {}
) -> Any:
    """Run ``code`` in the Airflow virtualenv, with ``repo`` first on sys.path and the same
    Airflow configuration as ``somlier dags check`` (no database); ``code`` calls
    ``result(value)``, and the value comes back as JSON."""
    out = tmp_path / "result.json"
    prelude = textwrap.dedent(f"""\
        import json, sys
        sys.path.insert(0, {str(repo)!r})
        def result(value):
            with open({str(out)!r}, "w") as handle:
                json.dump(value, handle)
        """)
    with tempfile.TemporaryDirectory() as home:
        full_env = {**airflow_env(Path(home), repo / "dags", os.environ), **env}
        done = subprocess.run(
            [str(python), "-I", "-B", "-c", prelude + textwrap.dedent(code)],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


class Webhook:
    """A Slack incoming webhook on 127.0.0.1 that records what is posted to it."""

    def __init__(self) -> None:
        posted = self.posted = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                posted.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def connection(self) -> str:
        """``AIRFLOW_CONN_…``: a slackwebhook connection whose token is this URL."""
        url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret"
        return json.dumps({"conn_type": "slackwebhook", "password": url})


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_parsing_dags_imports_neither_kubernetes_nor_slack(
    airflow_python, dags_repo, contract_dag, tmp_path
) -> None:
    """What makes somlier's DAG files cheap to parse (benchmarks/dags.py): the provider, the
    kubernetes client and Slack are imported only when a pod is wanted."""
    repo = dags_repo(
        {
            "dags/p/daily.py": contract_dag("daily"),
            "dags/p/mlops.py": contract_dag("mlops", mlflow=MLFLOW, slack_on_failure=True),
            "dags/p/gpu.py": contract_dag(
                "gpu", num_of_gpus=1, node_selector=GPU_SELECTOR, tolerations=GPU_TOLERATIONS
            ),
        }
    )
    found = in_airflow(
        airflow_python,
        repo,
        f"""
        from airflow.dag_processing.dagbag import DagBag
        heavy = ("kubernetes", "kubernetes_asyncio", "slack_sdk", {PROVIDER!r},
                 "airflow.providers.slack.hooks.slack_webhook")
        bag = DagBag(dag_folder={str(repo / "dags")!r})
        parsed = sorted(m for m in heavy if m in sys.modules)
        bag.dags["gpu"].get_task("run").build_pod_request_obj(dry_run=True)
        built = sorted(m for m in heavy if m in sys.modules)
        result({{"dags": sorted(bag.dags), "errors": bag.import_errors,
                 "parsed": parsed, "built": built}})
        """,
        tmp_path,
    )
    assert found["dags"] == ["daily", "gpu", "mlops"] and found["errors"] == {}
    assert found["parsed"] == []
    assert found["built"] == sorted([PROVIDER, "kubernetes", "kubernetes_asyncio"])


RUN_TASK = """
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder={dags!r})
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[{dag_id!r}]
    task = dag.get_task("run")

    class TaskInstance:
        dag_id, task_id, run_id, try_number, map_index = dag.dag_id, "run", "manual__1", 1, -1
        log_url = "http://airflow.example/log"
        xcom = {{}}

        def xcom_push(self, key, value):
            self.xcom[key] = value

    ti = TaskInstance()
    context = {{"ti": ti, "run_id": ti.run_id, "dag": dag, "task": task}}
    error = None
    try:
        task.execute(context)
    except Exception as exc:
        error = f"{{type(exc).__name__}}: {{exc}}"
        context["exception"] = exc
        for callback in task.on_failure_callback or []:  # what the task runner does then
            callback(context)
    result({{"error": error, "xcom": ti.xcom,
             "provider_class": type(task._pod_operator).__name__,
             "on_finish_action": str(task._pod_operator.on_finish_action.value)}})
"""


def test_the_task_runs_its_pod_through_the_provider_and_deletes_it(
    airflow_python, dags_repo, contract_dag, tmp_path
) -> None:
    repo = dags_repo(
        {
            "dags/p/gpu.py": contract_dag(
                "churn_gpu",
                command=["run", "train", "--date", "{{ ds }}"],
                gpu_type="nvidia-tesla-t4",
                num_of_gpus=1,
                node_selector=GPU_SELECTOR,
                tolerations=GPU_TOLERATIONS,
                mlflow=MLFLOW,
            )
        }
    )
    with FakeKube() as kube:
        config = kube.kubeconfig(tmp_path / "kubeconfig")
        connection = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(config)}}
        found = in_airflow(
            airflow_python,
            repo,
            RUN_TASK.format(dags=str(repo / "dags"), dag_id="churn_gpu"),
            tmp_path,
            {"AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection)},
        )
    assert found["error"] is None
    assert found["provider_class"] == "KubernetesPodOperator"
    assert found["on_finish_action"] == "delete_pod"
    (pod,) = kube.created
    name = pod["metadata"]["name"]
    assert name.startswith("churn-model-")
    assert found["xcom"] == {"pod_name": name, "pod_namespace": "mlops"}
    assert kube.deleted == [name]  # on_finish_action="delete_pod"
    assert pod["metadata"]["namespace"] == "mlops"
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "churn-model"
    assert labels["app.kubernetes.io/managed-by"] == "somlier"
    assert (labels["dag_id"], labels["task_id"], labels["try_number"]) == ("churn_gpu", "run", "1")
    spec = pod["spec"]
    assert spec["nodeSelector"] == GPU_SELECTOR
    assert spec["tolerations"] == GPU_TOLERATIONS
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["image"] == "reg.example.com/ml/churn-model:sha-abc1234"
    assert container["command"] == ["somlier", "config"]  # not the image's ENTRYPOINT
    assert container["args"] == ["run", "train", "--date", "{{ ds }}"]  # no Jinja: as written
    assert container["resources"] == {
        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "2", "memory": "4Gi"},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "mlops-secrets"}}]
    assert container["env"] == [
        {"name": "MLFLOW_TRACKING_URI", "value": MLFLOW["tracking_uri"]},
        {"name": "MODEL_NAME", "value": MLFLOW["model_name"]},
        {"name": "MODEL_ALIAS", "value": MLFLOW["model_alias"]},
    ]


def test_a_failed_pod_fails_the_task_and_tells_slack(
    airflow_python, dags_repo, contract_dag, tmp_path, webhook
) -> None:
    repo = dags_repo({"dags/p/mlops.py": contract_dag("churn_mlops", slack_on_failure=True)})
    with FakeKube(exit_code=3) as kube:
        config = kube.kubeconfig(tmp_path / "kubeconfig")
        connection = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(config)}}
        found = in_airflow(
            airflow_python,
            repo,
            RUN_TASK.format(dags=str(repo / "dags"), dag_id="churn_mlops"),
            tmp_path,
            {
                "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection),
                "AIRFLOW_CONN_SLACK_DEFAULT": webhook.connection,
            },
        )
    assert found["error"] is not None and "Pod" in found["error"]
    assert len(kube.created) == 1 and len(kube.deleted) == 1  # deleted, failed or not
    ((path, payload),) = webhook.posted
    assert path == "/services/T0/B0/secret"
    lines = payload["text"].splitlines()
    assert lines[0] == ":red_circle: *churn_mlops* failed: task `run`, run `manual__1`, try 1"
    assert lines[1] == "project `churn-model`, image `reg.example.com/ml/churn-model:sha-abc1234`"
    assert lines[2].startswith("error: AirflowException: Pod churn-model-")
    assert lines[-1] == "<http://airflow.example/log|logs>"


def test_slack_alert_joins_the_failure_callbacks_of_default_args(
    airflow_python, dags_repo, contract_dag, tmp_path
) -> None:
    text = contract_dag("x", slack_on_failure=True).replace(
        "default_args={", "default_args={'on_failure_callback': print, "
    )
    repo = dags_repo({"dags/p/x.py": text, "dags/p/y.py": contract_dag("y")})
    found = in_airflow(
        airflow_python,
        repo,
        f"""
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(repo / "dags")!r})
        names = lambda t: [getattr(c, "__name__", repr(c)) for c in t.on_failure_callback or []]
        result({{d: names(bag.dags[d].get_task("run")) for d in ("x", "y")}})
        """,
        tmp_path,
    )
    assert found == {"x": ["print", "notify_slack_on_failure"], "y": []}
