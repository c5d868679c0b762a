"""The DAG contract somlier renders, as the Airflow tests write it: ``render_contract(dag_id,
**task_arguments)`` gives a DAG file's text with every value a Python literal."""

from __future__ import annotations

from typing import Any

GPU_SELECTOR = {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
MLFLOW = {
    "tracking_uri": "http://mlflow.mlops.svc:5000",
    "model_name": "churn-classifier",
    "model_alias": "champion",
}

TASK_DEFAULTS: dict[str, Any] = {
    "task_id": "run",
    "project_name": "churn-model",
    "ml_project_docker_image": "reg.example.com/ml/churn-model:sha-abc1234",
    "command": ["run", "main"],
    "namespace": "mlops",
    "cpu": "2",
    "memory": "4Gi",
    "gpu_type": None,
    "num_of_gpus": 0,
    "node_selector": {},
    "tolerations": [],
    "secrets": ["mlops-secrets"],
    "mlflow": None,
    "slack_on_failure": False,
}


def render_contract(dag_id: str, *, dag_module: str = "airflow.sdk", **task: Any) -> str:
    """A DAG file in the contract's shape; every value a Python literal (``repr``).
    ``dag_module``: where DAG comes from (``airflow.sdk`` for Airflow 3, ``airflow`` for 2)."""
    unknown = set(task) - set(TASK_DEFAULTS)
    assert not unknown, f"not in the contract: {unknown}"
    args = {**TASK_DEFAULTS, **task}
    lines = "".join(f"        {k}={v!r},\n" for k, v in args.items())
    return (
        "import pendulum\n"
        f"from {dag_module} import DAG\n"
        "from operators.mlops_offline_operator import MLOpsOfflineOperator\n"
        "\n"
        "with DAG(\n"
        f"    dag_id={dag_id!r},\n"
        "    schedule='0 9 * * *',\n"
        "    start_date=pendulum.datetime(2024, 1, 1, tz='Asia/Seoul'),\n"
        "    catchup=False,\n"
        "    max_active_runs=1,\n"
        "    tags=['data-group'],\n"
        "    description='',\n"
        "    default_args={'owner': 'data-group', 'retries': 3, 'depends_on_past': False},\n"
        ") as dag:\n"
        "    MLOpsOfflineOperator(\n"
        f"{lines}"
        "    )\n"
    )
