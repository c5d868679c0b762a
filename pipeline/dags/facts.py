"""What the probe saw in Airflow, as frozen dataclasses: the JSON it prints is read here only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FORMAT = 1  # pipeline/dags/probe.py FORMAT


@dataclass(frozen=True)
class Pod:
    """The parts of a pod spec the checks look at (the first container's)."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    working_dir: str | None  # None: the image's WORKDIR
    limits: Mapping[str, str]
    requests: Mapping[str, str]
    env: tuple[str, ...]  # names only: values may be secrets
    env_from_secrets: tuple[str, ...]
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    containers: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "image": self.image,
            "command": list(self.command),
            "args": list(self.args),
            "working_dir": self.working_dir,
            "limits": dict(self.limits),
            "requests": dict(self.requests),
            "env": list(self.env),
            "env_from_secrets": list(self.env_from_secrets),
            "node_selector": dict(self.node_selector),
            "tolerations": [dict(t) for t in self.tolerations],
            "containers": self.containers,
        }


@dataclass(frozen=True)
class Task:
    dag_id: str
    task_id: str
    operator: str  # module.Class
    file: str
    mlops: bool  # an MLOpsOfflineOperator: the fields below are set, and its pod was built
    image: str | None
    num_of_gpus: int | None = None
    gpu_type: str | None = None
    pod: Pod | None = None
    pod_error: str | None = None  # the traceback when the pod could not be built


@dataclass(frozen=True)
class Dag:
    dag_id: str
    file: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Duplicate:
    """``dag_id`` is defined in ``file`` too, and first in ``first_file``."""

    dag_id: str
    file: str
    first_file: str


@dataclass(frozen=True)
class ImportFailure:
    file: str
    kind: str  # "import": the file failed to import; "serialize": a DAG of it did not serialize
    traceback: str  # or only the message, when Airflow gives no traceback


@dataclass(frozen=True)
class ProbeReport:
    airflow_version: str | None
    provider_version: str | None
    dag_folder: str
    files: tuple[str, ...]
    dags: tuple[Dag, ...]
    duplicates: tuple[Duplicate, ...]
    import_errors: tuple[ImportFailure, ...]


def _pod(data: Mapping[str, Any]) -> Pod:
    return Pod(
        name=str(data.get("name") or ""),
        namespace=str(data.get("namespace") or ""),
        labels=dict(data.get("labels") or {}),
        image=str(data.get("image") or ""),
        command=tuple(data.get("command") or ()),
        args=tuple(data.get("args") or ()),
        working_dir=data.get("working_dir") or None,
        limits={k: str(v) for k, v in (data.get("limits") or {}).items()},
        requests={k: str(v) for k, v in (data.get("requests") or {}).items()},
        env=tuple(data.get("env") or ()),
        env_from_secrets=tuple(data.get("env_from_secrets") or ()),
        node_selector=dict(data.get("node_selector") or {}),
        tolerations=tuple(dict(t) for t in data.get("tolerations") or ()),
        containers=int(data.get("containers") or 0),
    )


def _task(dag_id: str, data: Mapping[str, Any]) -> Task:
    pod = data.get("pod")
    gpus = data.get("num_of_gpus")
    return Task(
        dag_id=dag_id,
        task_id=data["task_id"],
        operator=data["class"],
        file=data["file"],
        mlops=bool(data["mlops"]),
        image=data.get("image"),
        num_of_gpus=gpus if isinstance(gpus, int) else None,
        gpu_type=data.get("gpu_type"),
        pod=_pod(pod) if pod else None,
        pod_error=data.get("pod_error"),
    )


def _dags(items: Sequence[Mapping[str, Any]]) -> tuple[Dag, ...]:
    return tuple(
        Dag(d["dag_id"], d["file"], tuple(_task(d["dag_id"], t) for t in d["tasks"])) for d in items
    )


def from_json(data: Mapping[str, Any]) -> ProbeReport:
    """Read the probe's object (a KeyError here is a bug: probe and reader disagree)."""
    if data.get("format") != FORMAT:
        raise ValueError(f"the probe speaks format {data.get('format')!r}, somlier {FORMAT}")
    return ProbeReport(
        airflow_version=data.get("airflow_version"),
        provider_version=data.get("provider_version"),
        dag_folder=data["dag_folder"],
        files=tuple(data["files"]),
        dags=_dags(data["dags"]),
        duplicates=tuple(
            Duplicate(d["dag_id"], d["file"], d["first_file"]) for d in data["duplicates"]
        ),
        import_errors=tuple(
            ImportFailure(e["file"], e["kind"], e["traceback"]) for e in data["import_errors"]
        ),
    )
