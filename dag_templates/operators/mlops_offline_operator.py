"""``MLOpsOfflineOperator``: one batch job of an ML project, run as a Kubernetes pod.

Every DAG somlier renders imports this module; ``somlier dags init`` copies it into the
mlops-dags repository as ``operators/mlops_offline_operator.py``. The pod work is done by the
cncf.kubernetes provider's ``KubernetesPodOperator``: this operator maps the arguments of the DAG
contract (project, image, command, resources, GPU, secrets, MLflow, Slack) to it.

Why it is not a subclass of ``KubernetesPodOperator``: the scheduler's DAG processor imports every
DAG file over and over, and importing the provider (the ``kubernetes`` client with its models, and
``kubernetes_asyncio``) costs about 0.7 s, more than all the rest of a DAG file together. So this
module imports only Airflow's ``BaseOperator`` and checks the arguments (cheap, and a mistake
becomes an import error with the DAG file's line); the provider's operator is built only where a
pod is needed: ``execute`` (the task runs) and ``build_pod_request_obj`` (``somlier dags check``
asks for the pod spec offline). See docs/dags.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

try:  # Airflow 3
    from airflow.sdk import BaseOperator
except ImportError:  # Airflow 2.7 to 2.11
    from airflow.models.baseoperator import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        BaseOperator,
    )

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk import Context
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

GPU_RESOURCE = "nvidia.com/gpu"
# The container's command: the DAG's ``command`` are its arguments, so ``["run", "main"]`` runs
# ``somlier config run main`` whatever the image's ENTRYPOINT is (pipeline/offline/pod.py).
POD_COMMAND = ("somlier", "config")
MANAGED_BY = "somlier"
MLFLOW_KEYS = {
    "tracking_uri": "MLFLOW_TRACKING_URI",
    "model_name": "MODEL_NAME",
    "model_alias": "MODEL_ALIAS",
}
TOLERATION_KEYS = {
    "key": "key",
    "operator": "operator",
    "value": "value",
    "effect": "effect",
    "toleration_seconds": "toleration_seconds",
    "tolerationSeconds": "toleration_seconds",
}
# A Kubernetes label value and pod name prefix: the project name is a DNS-1123 label.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _strings(name: str, value: object) -> list[str]:
    """A list of strings; a lone string is refused (``"run main"`` would become 8 arguments)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of strings, not {type(value).__name__}: {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold strings only, not {item!r}")
    return items


def _string_map(name: str, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of strings, not {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"{name} must map strings to strings, not {key!r}: {item!r}")
    return dict(value)


def _quantity(name: str, value: object) -> str | None:
    """A Kubernetes quantity (``"2"``, ``"500m"``, ``"4Gi"``), or None for no request or limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value) == "":
        raise TypeError(f"{name} must be a Kubernetes quantity such as '2' or '4Gi', not {value!r}")
    return str(value)


def _tolerations(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(f"tolerations must be a list of dicts, not {type(value).__name__}")
    result = []
    for item in value:
        if not isinstance(item, Mapping):
            raise TypeError(f"each toleration must be a dict, not {item!r}")
        unknown = sorted(set(item) - set(TOLERATION_KEYS))
        if unknown:
            known = "key, operator, value, effect, toleration_seconds"
            raise ValueError(f"unknown toleration keys {unknown} (known: {known})")
        result.append({TOLERATION_KEYS[k]: v for k, v in item.items()})
    return result


def _mlflow_env(value: object) -> dict[str, str]:
    """``{"tracking_uri", "model_name", "model_alias"}`` -> the environment the job reads."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"mlflow must be None or a dict, not {type(value).__name__}")
    unknown = sorted(set(value) - set(MLFLOW_KEYS))
    if unknown:
        raise ValueError(f"unknown mlflow keys {unknown} (known: {', '.join(MLFLOW_KEYS)})")
    if not value.get("tracking_uri"):
        raise ValueError("mlflow needs a tracking_uri")
    env = {}
    for key, variable in MLFLOW_KEYS.items():
        item = value.get(key)
        if item is None:
            continue
        if not isinstance(item, str):
            raise TypeError(f"mlflow.{key} must be a string, not {item!r}")
        env[variable] = item
    return env


class MLOpsOfflineOperator(BaseOperator):
    """Run ``somlier config COMMAND`` (``command=["run", "main"]``: the entrypoint ``main``) in a
    pod of the project's image.

    :param project_name: the project (a DNS-1123 label): the pod's name prefix and its
        ``app.kubernetes.io/name`` label.
    :param ml_project_docker_image: the image, tagged (``reg/ml/p:sha-abc1234``).
    :param command: the arguments of ``somlier config`` in the container, e.g.
        ``["run", "main"]``.
    :param namespace: the Kubernetes namespace of the pod.
    :param cpu: CPU request and limit (``"2"``, ``"500m"``), or None for none.
    :param memory: memory request and limit (``"4Gi"``), or None for none.
    :param gpu_type: the GPU type asked for (``nvidia-tesla-t4``); informative: where the pod
        lands is decided by ``node_selector`` and ``tolerations``.
    :param num_of_gpus: ``nvidia.com/gpu`` limit; 0 for none.
    :param node_selector: node labels the pod must match (the GPU node pool's, for a GPU job).
    :param tolerations: taints the pod tolerates, as dicts (``key``, ``operator``, ``effect``…).
    :param secrets: Kubernetes secrets whose keys all become environment variables.
    :param mlflow: ``{"tracking_uri", "model_name", "model_alias"}``, set as MLFLOW_TRACKING_URI,
        MODEL_NAME and MODEL_ALIAS; None for none.
    :param slack_on_failure: post to Slack when the task fails (after its last retry).
    :param kubernetes_conn_id: the Airflow connection to the cluster.
    :param slack_conn_id: the Airflow connection (a Slack incoming webhook) alerts go through.
    :param startup_timeout_seconds: how long the pod may stay pending: image pulls of ML images,
        and GPU nodes scaled up on demand, often take longer than the provider's 120 s.

    Values are used as given: none of them is a Jinja template (a ``{{ }}`` in a command stays).
    """

    template_fields: Sequence[str] = ()
    ui_color = "#dbe9f6"

    def __init__(
        self,
        *,
        project_name: str,
        ml_project_docker_image: str,
        command: Sequence[str],
        namespace: str = "default",
        cpu: str | None = None,
        memory: str | None = None,
        gpu_type: str | None = None,
        num_of_gpus: int = 0,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] | None = None,
        secrets: Sequence[str] = (),
        mlflow: Mapping[str, str] | None = None,
        slack_on_failure: bool = False,
        kubernetes_conn_id: str = "kubernetes_default",
        slack_conn_id: str = "slack_default",
        startup_timeout_seconds: int = 600,
        on_failure_callback: Any = None,  # named, so that Airflow fills it from default_args
        **kwargs: Any,
    ) -> None:
        if not isinstance(project_name, str) or not _DNS_LABEL.match(project_name):
            raise ValueError(f"project_name must be a DNS-1123 label, not {project_name!r}")
        if not isinstance(ml_project_docker_image, str) or not ml_project_docker_image.strip():
            raise ValueError(
                f"ml_project_docker_image must be an image name, not {ml_project_docker_image!r}"
            )
        if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
            raise ValueError(f"namespace must be a DNS-1123 label, not {namespace!r}")
        if isinstance(num_of_gpus, bool) or not isinstance(num_of_gpus, int) or num_of_gpus < 0:
            raise ValueError(f"num_of_gpus must be an integer >= 0, not {num_of_gpus!r}")
        if gpu_type is not None and not isinstance(gpu_type, str):
            raise TypeError(f"gpu_type must be a string or None, not {gpu_type!r}")
        callbacks = _callbacks(on_failure_callback)
        if slack_on_failure:
            callbacks.append(notify_slack_on_failure)
        super().__init__(on_failure_callback=callbacks or None, **kwargs)
        self.project_name = project_name
        self.ml_project_docker_image = ml_project_docker_image
        self.command = _strings("command", command)
        self.namespace = namespace
        self.cpu = _quantity("cpu", cpu)
        self.memory = _quantity("memory", memory)
        self.gpu_type = gpu_type
        self.num_of_gpus = num_of_gpus
        self.node_selector = _string_map("node_selector", node_selector)
        self.tolerations = _tolerations(tolerations)
        self.secrets = _strings("secrets", secrets)
        self.mlflow_env = _mlflow_env(mlflow)
        self.slack_on_failure = bool(slack_on_failure)
        self.kubernetes_conn_id = kubernetes_conn_id
        self.slack_conn_id = slack_conn_id
        self.startup_timeout_seconds = startup_timeout_seconds
        self._pod_operator: KubernetesPodOperator | None = None

    @property
    def pod_labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self.project_name,
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }

    def container_resources(self) -> k8s.V1ResourceRequirements:
        """CPU and memory as requests and limits alike; ``nvidia.com/gpu`` as a limit (the
        scheduler takes an extended resource's request from its limit)."""
        from kubernetes.client import models as k8s

        requests = {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v is not None}
        limits = dict(requests)
        if self.num_of_gpus > 0:
            limits[GPU_RESOURCE] = str(self.num_of_gpus)
        return k8s.V1ResourceRequirements(requests=requests or None, limits=limits or None)

    def pod_operator(self) -> KubernetesPodOperator:
        """The provider's operator for this task (imports the provider: call it at run time)."""
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        from kubernetes.client import models as k8s

        return KubernetesPodOperator(
            task_id=self.task_id,
            kubernetes_conn_id=self.kubernetes_conn_id,
            namespace=self.namespace,
            name=self.project_name,
            image=self.ml_project_docker_image,
            cmds=list(POD_COMMAND),
            arguments=list(self.command),
            labels=self.pod_labels,
            container_resources=self.container_resources(),
            node_selector=dict(self.node_selector) or None,
            tolerations=[k8s.V1Toleration(**t) for t in self.tolerations] or None,
            env_from=[
                k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=name))
                for name in self.secrets
            ]
            or None,
            env_vars=dict(self.mlflow_env) or None,
            on_finish_action="delete_pod",
            startup_timeout_seconds=self.startup_timeout_seconds,
            do_xcom_push=False,
            deferrable=False,
        )

    def build_pod_request_obj(
        self, context: Context | None = None, *, dry_run: bool = False
    ) -> k8s.V1Pod:
        """The pod this task would create; ``dry_run=True`` needs no cluster nor credentials."""
        operator = self.pod_operator()
        if dry_run:
            return operator.build_pod_request_obj(context, dry_run=True)
        return operator.build_pod_request_obj(context)

    def execute(self, context: Context) -> Any:
        self._pod_operator = operator = self.pod_operator()
        # ``execute_sync`` is what ``KubernetesPodOperator.execute`` runs for a non-deferrable
        # operator; calling ``execute`` itself from inside this task would make Airflow's guard
        # against operators run outside the task runner log a warning for this intended nesting.
        run = getattr(operator, "execute_sync", None)
        if run is None:  # providers before execute_sync existed
            return operator.execute(context)
        return run(context)

    def on_kill(self) -> None:
        if self._pod_operator is not None:
            self._pod_operator.on_kill()


def _callbacks(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def notify_slack_on_failure(context: Context) -> None:
    """``on_failure_callback``: post the failed task to Slack through an incoming webhook
    connection (``slack_conn_id``, default ``slack_default``; the slack provider reads the
    webhook URL from it). Imports the Slack provider only here, when a task has failed."""
    task = context["task"]
    ti = context["ti"]
    conn_id = getattr(task, "slack_conn_id", "slack_default")
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    except ImportError:
        log.error(
            "cannot alert Slack that %s.%s failed: install apache-airflow-providers-slack",
            ti.dag_id,
            ti.task_id,
        )
        return
    text = failure_message(context)
    SlackWebhookHook(slack_webhook_conn_id=conn_id).send(text=text)


def failure_message(context: Context) -> str:
    """The Slack message for a failed task (plain text with Slack's link syntax)."""
    task = context["task"]
    ti = context["ti"]
    run_id = context.get("run_id", "")
    lines = [
        f":red_circle: *{ti.dag_id}* failed: task `{ti.task_id}`, run `{run_id}`,"
        f" try {getattr(ti, 'try_number', '?')}",
    ]
    project = getattr(task, "project_name", None)
    image = getattr(task, "ml_project_docker_image", None)
    if project:
        lines.append(f"project `{project}`, image `{image}`")
    exception = context.get("exception")
    if exception is not None:
        lines.append(f"error: {type(exception).__name__}: {str(exception)[:500]}")
    log_url = getattr(ti, "log_url", None)
    if log_url:
        lines.append(f"<{log_url}|logs>")
    return "\n".join(lines)
