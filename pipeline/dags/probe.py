"""Run inside Airflow's virtualenv: fill a real DagBag and print what it found as one JSON object.

    python -I probe.py --root ROOT DAG_FOLDER

This file is run by path, in isolated mode (``-I``: no PYTHONPATH, no script folder on sys.path),
by ``pipeline.dags.airflow``; it imports nothing but the standard library and Airflow, and
``--root`` folders (the dags repository, for its ``operators`` package) go first on sys.path.
It reports facts only (files, dag ids, import errors with their tracebacks, tasks and the pods
the MLOpsOfflineOperator tasks would create); somlier judges them (``pipeline.dags.rules``).

Airflow's logs go to stdout: the JSON goes to the original stdout, everything else to stderr.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

FORMAT = 1
EXIT_NO_AIRFLOW = 4
MLOPS_OPERATOR = "MLOpsOfflineOperator"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _dagbag_class() -> Any:
    try:  # Airflow 3
        from airflow.dag_processing.dagbag import DagBag  # type: ignore[import-not-found]
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[import-not-found]
    return DagBag


def _serializer() -> Any:
    try:  # Airflow 3.1+
        from airflow.serialization.serialized_objects import (  # type: ignore[import-not-found]
            DagSerialization,
        )

        return DagSerialization.to_dict
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG

        return SerializedDAG.to_dict


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-30))


def _pruned(value: Any) -> Any:
    """Drop the Nones and empties of a kubernetes model's ``to_dict()``."""
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _pod_facts(pod: Any) -> dict[str, Any]:
    data = _pruned(pod.to_dict())
    metadata = data.get("metadata", {})
    spec = data.get("spec", {})
    containers = spec.get("containers", [])
    main = containers[0] if containers else {}
    resources = main.get("resources", {})
    return {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "labels": metadata.get("labels", {}),
        "image": main.get("image"),
        "command": main.get("command", []),
        "args": main.get("args", []),
        "working_dir": main.get("working_dir"),
        "limits": resources.get("limits", {}),
        "requests": resources.get("requests", {}),
        "env": sorted(e["name"] for e in main.get("env", [])),
        "env_from_secrets": [
            e["secret_ref"]["name"] for e in main.get("env_from", []) if "secret_ref" in e
        ],
        "node_selector": spec.get("node_selector", {}),
        "tolerations": spec.get("tolerations", []),
        "containers": len(containers),
    }


def _task_facts(task: Any, fileloc: str) -> dict[str, Any]:
    cls = type(task)
    mlops = cls.__name__ == MLOPS_OPERATOR and hasattr(task, "build_pod_request_obj")
    facts: dict[str, Any] = {
        "task_id": task.task_id,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "file": fileloc,
        "mlops": mlops,
        "image": getattr(task, "ml_project_docker_image", None) or getattr(task, "image", None),
        "pod": None,
        "pod_error": None,
    }
    if not isinstance(facts["image"], str):
        facts["image"] = None
    if not mlops:
        return facts
    facts["num_of_gpus"] = getattr(task, "num_of_gpus", None)
    facts["gpu_type"] = getattr(task, "gpu_type", None)
    try:
        pod = task.build_pod_request_obj(dry_run=True)
    except Exception as exc:  # reported as a finding: the pod of this task cannot be built
        facts["pod_error"] = _error_text(exc)
    else:
        facts["pod"] = _pod_facts(pod)
    return facts


def probe(dag_folder: str) -> dict[str, Any]:
    """Fill a DagBag from ``dag_folder``; what it holds, as plain data."""
    base = _dagbag_class()
    duplicates: list[dict[str, str]] = []

    class Bag(base):  # type: ignore[misc,valid-type]
        """Records a dag_id seen twice instead of failing the second file, so both show."""

        def bag_dag(self, dag: Any, *args: Any, **kwargs: Any) -> Any:
            first = self.dags.get(dag.dag_id)
            if first is not None and first.fileloc != dag.fileloc:
                duplicates.append(
                    {"dag_id": dag.dag_id, "file": dag.fileloc, "first_file": first.fileloc}
                )
                return None
            return super().bag_dag(dag, *args, **kwargs)

    bag = Bag(dag_folder=dag_folder)
    to_dict = _serializer()
    import_errors = [
        {"file": str(Path(dag_folder, path)), "kind": "import", "traceback": text}
        for path, text in sorted(bag.import_errors.items())
    ]
    dags = []
    for dag_id in sorted(bag.dags):
        dag = bag.dags[dag_id]
        try:
            to_dict(dag)
        except Exception as exc:  # the DAG processor would record this as an import error
            import_errors.append(
                {"file": dag.fileloc, "kind": "serialize", "traceback": _error_text(exc)}
            )
        dags.append(
            {
                "dag_id": dag_id,
                "file": dag.fileloc,
                "tasks": [_task_facts(task, dag.fileloc) for task in dag.tasks],
            }
        )
    stats = getattr(bag, "dagbag_stats", [])
    return {
        "format": FORMAT,
        "airflow_version": _version("apache-airflow") or _version("apache-airflow-core"),
        "provider_version": _version("apache-airflow-providers-cncf-kubernetes"),
        "dag_folder": dag_folder,
        "files": sorted(str(Path(dag_folder, s.file)) for s in stats),
        "dags": dags,
        "duplicates": duplicates,
        "import_errors": import_errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="probe.py", description=__doc__)
    parser.add_argument("dag_folder")
    parser.add_argument("--root", action="append", default=[], help="put first on sys.path")
    args = parser.parse_args(argv)

    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # from here on, fd 1 (Airflow's logs, prints in DAG files) is stderr
    for root in reversed(args.root):
        sys.path.insert(0, root)
    try:
        import airflow  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        json.dump({"format": FORMAT, "error": f"cannot import airflow: {exc}"}, out)
        out.write("\n")
        out.close()
        return EXIT_NO_AIRFLOW
    report = probe(str(Path(args.dag_folder).resolve()))
    json.dump(report, out)
    out.write("\n")
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
