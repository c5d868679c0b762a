"""A real MLflow registry with one registered scikit-learn model, as a pytest fixture.

``registered_model`` (session-scoped) makes a SQLite tracking store and a file artifact root in a
tmp dir, trains a small ``LogisticRegression`` on the iris data that scikit-learn ships, logs it
with a signature and an input example, and registers it as version 1. Nothing leaves the tmp dir:
the global MLflow tracking and registry URIs are restored afterwards, and the store is reachable
only through ``tracking_uri``.

    def test_x(registered_model: RegisteredModel) -> None:
        # pass registry_uri too: MlflowClient's registry defaults to the *global* URI
        uri = registered_model.tracking_uri
        client = MlflowClient(uri, registry_uri=uri)
        mv = client.get_model_version(registered_model.model_name, registered_model.version)

``example_rows`` are the input example (a few rows of four floats, in ``columns`` order) and
``expected`` the model's predictions for them (class ids), so a served model can be checked
against the real answer.

Child processes (``mlflow models serve``, ``bentoml serve``) reach the same store through
``MLFLOW_TRACKING_URI=tracking_uri``; ``env()`` returns ``os.environ`` with it set.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["MODEL_NAME", "RegisteredModel", "make_registered_model", "registered_model"]

MODEL_NAME = "iris-classifier"


@dataclass(frozen=True)
class RegisteredModel:
    tracking_uri: str  # sqlite:////tmp/.../mlflow.db (also the registry URI)
    model_name: str  # "iris-classifier"
    version: str  # "1"
    run_id: str
    columns: tuple[str, ...]  # the input columns, in order
    example_rows: tuple[tuple[float, ...], ...]  # the logged input example
    expected: tuple[int, ...]  # the model's predictions for example_rows
    artifact_root: Path  # where the run artifacts live (inside the tmp dir)

    def env(self) -> dict[str, str]:
        """``os.environ`` plus the tracking and registry URIs, for child processes."""
        return {
            **os.environ,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_REGISTRY_URI": self.tracking_uri,
        }


def make_registered_model(root: Path, model_name: str = MODEL_NAME) -> RegisteredModel:
    """Make the store under ``root`` and register the model (usable outside pytest)."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    root.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    artifact_root = root / "artifacts"
    artifact_root.mkdir(exist_ok=True)

    iris = load_iris(as_frame=True)
    columns = ("sepal_length", "sepal_width", "petal_length", "petal_width")
    features = iris.data.set_axis(list(columns), axis=1).astype("float64")
    model = LogisticRegression(max_iter=500).fit(features, iris.target)
    example = features.iloc[[0, 50, 100]].reset_index(drop=True)

    previous_tracking = mlflow.get_tracking_uri()
    previous_registry = mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
        experiment_id = client.create_experiment(
            "somlier-tests", artifact_location=artifact_root.as_uri()
        )
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(example, model.predict(example)),
                input_example=example,
                registered_model_name=model_name,
            )
        run_id = run.info.run_id
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)

    rows = tuple(tuple(float(v) for v in row) for row in example.itertuples(index=False))
    expected = tuple(int(p) for p in model.predict(pd.DataFrame(list(rows), columns=list(columns))))
    return RegisteredModel(
        tracking_uri=tracking_uri,
        model_name=model_name,
        version="1",
        run_id=run_id,
        columns=columns,
        example_rows=rows,
        expected=expected,
        artifact_root=artifact_root,
    )


@pytest.fixture(scope="session")
def registered_model(tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    """A SQLite MLflow store holding ``iris-classifier`` version 1 (scikit-learn)."""
    return make_registered_model(tmp_path_factory.mktemp("mlflow"))
