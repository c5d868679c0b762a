"""Fuzzed DAG files in a real Airflow: whatever text a user puts in a job, the rendered file is
Python that Airflow imports; the operator may refuse a value (an import error naming it), but no
value ever breaks the file's syntax, names something undefined, or runs. Each file is rendered
for the Airflow under test (platform ``airflow.version``), on Airflow 3 and on Airflow 2."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.offline.dag import render_dag
from pipeline.offline.spec import DagSpec, MLflowTarget
from tests.helpers.dag_specs import dag_specs
from tests.integration.dag_runtime.airflow_venv import Airflow

BROKEN = ("SyntaxError", "IndentationError", "NameError", "TabError", "SystemError")


def _files(specs: list[DagSpec], airflow: Airflow) -> dict[str, str]:
    """The DAG files of ``specs``, rendered for ``airflow``'s major version."""
    return {
        f"dags/fuzz/{s.dag_id}.py": render_dag(
            dataclasses.replace(s, airflow_version=airflow.major)
        )
        for s in specs
    }


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # an Airflow run per example: no shrinking
)
@given(specs=st.lists(dag_specs(), min_size=10, max_size=10, unique_by=lambda s: s.dag_id))
def test_fuzzed_dags_import_in_airflow(
    specs: list[DagSpec],
    dags_repo: Callable[..., Path],
    check: Callable[..., tuple[int, str, str]],
    airflow: Airflow,
) -> None:
    # One folder per example: hypothesis runs every example inside one tmp_path.
    repo = dags_repo(
        _files(specs, airflow),
        name=f"fuzzed-dags-{uuid.uuid4().hex[:8]}",
    )
    _code, out, err = check(repo, "--json")
    report = json.loads(out)
    assert len(report["files"]) == len(specs), (report["files"], report["problems"], err[-2000:])
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    for problem in errors:
        assert not any(word in problem["message"] for word in BROKEN), problem
    imported = {d["dag_id"] for d in report["dags"]}
    refused = {Path(p["path"]).stem for p in errors}
    assert imported | refused == {s.dag_id for s in specs}  # each file: a DAG, or a refusal


def _operator_valid(spec: DagSpec) -> DagSpec:
    """The values the operator checks (names, image, quantities, GPU) made valid; the free text
    (description, owner, tags, command, MLflow names, the header's source) stays fuzzed."""
    mlflow = (
        MLflowTarget(
            tracking_uri="http://mlflow.mlops:5000",
            model_name=spec.mlflow.model_name,
            model_alias=spec.mlflow.model_alias,
        )
        if spec.mlflow is not None
        else None
    )
    return dataclasses.replace(
        spec,
        project_name="fuzz-project",
        image="reg.example/ml/fuzz:sha-abc1234",
        namespace="mlops",
        cpu=None,
        memory=None,
        gpu_type=None,
        num_of_gpus=0,
        node_selector=(),
        tolerations=(),
        secrets=(),
        mlflow=mlflow,
    )


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
@given(
    specs=st.lists(
        dag_specs().map(_operator_valid), min_size=10, max_size=10, unique_by=lambda s: s.dag_id
    )
)
def test_fuzzed_free_text_dags_all_import(
    specs: list[DagSpec],
    dags_repo: Callable[..., Path],
    check: Callable[..., tuple[int, str, str]],
    airflow: Airflow,
) -> None:
    repo = dags_repo(
        _files(specs, airflow),
        name=f"fuzzed-text-{uuid.uuid4().hex[:8]}",
    )
    _code, out, err = check(repo, "--json")
    report = json.loads(out)
    assert report["errors"] == 0, (report["problems"], err[-2000:])
    assert {d["dag_id"] for d in report["dags"]} == {s.dag_id for s in specs}
    for dag in report["dags"]:
        [task] = dag["tasks"]
        assert task["image"] == "reg.example/ml/fuzz:sha-abc1234"
