"""``somlier online register``: a run's model into the MLflow model registry, with an alias.

The run's model is found as MLflow 3 records it (logged models whose source is the run, and the
run's model outputs) or, for runs logged the classic way, as an artifact folder holding an
``MLmodel`` file (``runs:/RUN_ID/PATH``). Aliases (``champion``) replace the deprecated stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import UserError
from pipeline.online.model_names import check_model_name
from pipeline.online.model_ref import check_spelling
from pipeline.online.tracking import Tracking, client, mlflow_failure

if TYPE_CHECKING:
    from mlflow import MlflowClient

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# MLflow refuses "latest" and version-like aliases ("v3") itself; this keeps the rest sane.
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")


@dataclass(frozen=True)
class RunModel:
    """One model of a run: its registry source URI and a name to tell it apart."""

    name: str
    source: str
    model_id: str | None = None


@dataclass(frozen=True)
class Registered:
    model_name: str
    version: str
    run_id: str
    source: str
    alias: str | None
    tracking_uri: str  # redacted: the registry it is in

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
            "alias": self.alias,
            "tracking_uri": self.tracking_uri,
        }


def check_names(run_id: str, model_name: str, alias: str | None) -> None:
    if not _RUN_ID.match(run_id):
        raise UserError(
            f"{run_id!r} is not an MLflow run id", hint="32 hex digits, as `online train` printed"
        )
    check_model_name(model_name)
    if alias is not None and (
        not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias)
    ):
        raise UserError(
            f"invalid alias {alias!r}",
            hint="a word such as champion or challenger (not 'latest', not v<number>)",
        )


def _classic_models(mlflow_client: MlflowClient, run_id: str) -> list[RunModel]:
    """Artifact folders of the run holding an MLmodel file (top level and one level down)."""
    found = []
    for item in mlflow_client.list_artifacts(run_id):
        if not item.is_dir:
            if item.path == "MLmodel":
                found.append(RunModel(".", f"runs:/{run_id}"))
            continue
        names = {a.path.rsplit("/", 1)[-1] for a in mlflow_client.list_artifacts(run_id, item.path)}
        if "MLmodel" in names:
            found.append(RunModel(item.path, f"runs:/{run_id}/{item.path}"))
    return found


def run_models(mlflow_client: MlflowClient, run: Any) -> list[RunModel]:
    """Every model of ``run``: MLflow 3 logged models first, else classic artifact folders."""
    run_id = run.info.run_id
    logged = {
        m.model_id: m
        for m in mlflow_client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run_id}'",
        )
    }
    for output in getattr(run.outputs, "model_outputs", None) or ():
        if output.model_id not in logged:
            logged[output.model_id] = mlflow_client.get_logged_model(output.model_id)
    if logged:
        return sorted(
            (RunModel(m.name, f"models:/{m.model_id}", m.model_id) for m in logged.values()),
            key=lambda m: m.name,
        )
    return _classic_models(mlflow_client, run_id)


def _pick(models: list[RunModel], run_id: str, wanted: str | None) -> RunModel:
    if wanted is not None:
        chosen = [m for m in models if wanted in (m.name, m.model_id)]
        if not chosen:
            names = ", ".join(m.name for m in models) or "none"
            raise UserError(f"run {run_id} has no model {wanted!r}", hint=f"its models: {names}")
        return chosen[0]
    if not models:
        raise UserError(
            f"run {run_id} has no model to register",
            hint="log one in the training code, e.g. mlflow.sklearn.log_model(model, name='model')",
        )
    if len(models) > 1:
        names = ", ".join(m.name for m in models)
        raise UserError(
            f"run {run_id} has {len(models)} models: {names}",
            hint="choose one with --model NAME",
        )
    return models[0]


def register(
    run_id: str,
    model_name: str,
    *,
    tracking: Tracking,
    alias: str | None = None,
    model: str | None = None,
) -> Registered:
    """Register the model of ``run_id`` as a new version of ``model_name``; set ``alias`` on it."""
    check_names(run_id, model_name, alias)
    mlflow_client = client(tracking)  # first: a missing mlflow is a clear MissingDependency

    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import (
        INVALID_PARAMETER_VALUE,
        RESOURCE_DOES_NOT_EXIST,
        ErrorCode,
    )

    missing = ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)
    try:
        run = mlflow_client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code in (missing, ErrorCode.Name(INVALID_PARAMETER_VALUE)):
            raise UserError(
                f"no run {run_id} in {tracking.shown}",
                hint="check the run id and the tracking URI (MLFLOW_TRACKING_URI, "
                "mlflow.tracking_uri)",
            ) from exc
        raise mlflow_failure(exc, tracking, f"looking up run {run_id}") from exc
    try:
        check_spelling(mlflow_client, model_name, tracking.shown)  # before anything is read
        chosen = _pick(run_models(mlflow_client, run), run_id, model)
        try:
            mlflow_client.get_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code != missing:
                raise
            mlflow_client.create_registered_model(model_name)
        version = mlflow_client.create_model_version(
            model_name, chosen.source, run_id=run_id, model_id=chosen.model_id
        )
        if alias is not None:
            mlflow_client.set_registered_model_alias(model_name, alias, str(version.version))
    except MlflowException as exc:
        raise mlflow_failure(exc, tracking, f"registering {model_name!r}") from exc
    return Registered(
        model_name, str(version.version), run_id, chosen.source, alias, tracking.shown
    )
