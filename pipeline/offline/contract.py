"""The contract between a rendered DAG and the operator it calls: the arguments of ``DAG(...)``
and of ``MLOpsOfflineOperator(...)`` for a :class:`DagSpec`, as plain literals."""

from __future__ import annotations

from typing import Any

from pipeline.config.settings import Toleration
from pipeline.offline.spec import DagSpec

OPERATOR = "MLOpsOfflineOperator"
OPERATOR_MODULE = "operators.mlops_offline_operator"


def _toleration(t: Toleration) -> dict[str, str]:
    return {
        k: v for k in ("key", "operator", "value", "effect") if (v := getattr(t, k)) is not None
    }


def dag_arguments(spec: DagSpec) -> dict[str, Any]:
    """The literal arguments of ``DAG(...)`` (all but ``start_date``)."""
    return {
        "dag_id": spec.dag_id,
        "schedule": spec.schedule,
        "catchup": spec.catchup,
        "max_active_runs": 1,
        "tags": list(spec.tags),
        "description": spec.description,
        "default_args": {"owner": spec.owner, "retries": spec.retries, "depends_on_past": False},
    }


def operator_arguments(spec: DagSpec) -> dict[str, Any]:
    """The arguments of ``MLOpsOfflineOperator(...)``: the contract with the operator."""
    mlflow = spec.mlflow
    return {
        "task_id": "run",
        "project_name": spec.project_name,
        "ml_project_docker_image": spec.image,
        "command": list(spec.command),
        "namespace": spec.namespace,
        "cpu": spec.cpu,
        "memory": spec.memory,
        "gpu_type": spec.gpu_type,
        "num_of_gpus": spec.num_of_gpus,
        "node_selector": dict(spec.node_selector),
        "tolerations": [_toleration(t) for t in spec.tolerations],
        "secrets": list(spec.secrets),
        "mlflow": None
        if mlflow is None
        else {
            "tracking_uri": mlflow.tracking_uri,
            "model_name": mlflow.model_name,
            "model_alias": mlflow.model_alias,
        },
        "slack_on_failure": spec.template == "mlops",
    }
