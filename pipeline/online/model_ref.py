"""A registered model version, resolved: where its files are and what it takes as input.

:func:`resolve_model` asks the MLflow registry for ``NAME``/``VERSION``, downloads the model's
artifacts and reads its ``MLmodel`` file (flavours, signature, input example). The result is a
plain frozen value that the service generator (:mod:`pipeline.online.bento`) and the Kubernetes
path share; MLflow is imported here, lazily, and nowhere in the value.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import StepFailed, UserError

# Flavours whose own loader gives an object with ``predict(ndarray)``: served without pyfunc.
NATIVE_FLAVOURS = ("sklearn", "xgboost", "lightgbm")
PYFUNC = "python_function"


@dataclass(frozen=True)
class Column:
    """One input (or output) of the model's signature: ``name`` may be empty (tensor input)."""

    name: str
    type: str  # MLflow's type name: double, float, long, integer, boolean, string, tensor…


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    run_id: str
    flavour: str  # one of NATIVE_FLAVOURS, else "python_function"
    path: Path  # local folder holding MLmodel and the model's files
    inputs: tuple[Column, ...]  # from the signature; empty when the model has none
    outputs: tuple[Column, ...]
    input_example: tuple[tuple[Any, ...], ...]  # rows in ``inputs`` order; may be empty
    flavours: tuple[str, ...] = ()  # every flavour the MLmodel declares
    source: str = ""  # the registry's source URI (models:/m-… or runs:/…)
    requirements: tuple[str, ...] = field(default=())  # the model's own requirements.txt

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.inputs)

    def example_request(self) -> dict[str, Any]:
        """The JSON body somlier's service takes, for the input example (or one zero row)."""
        rows = [list(r) for r in self.input_example[:1]]
        if not rows:
            rows = [[_zero(c.type) for c in self.inputs]] if self.inputs else [[0.0]]
        return {"inputs": rows}


def _zero(kind: str) -> Any:
    return {"string": "", "boolean": False, "long": 0, "integer": 0}.get(kind, 0.0)


def _columns(spec: Any) -> tuple[Column, ...]:
    if spec is None:
        return ()
    columns = []
    for item in spec.to_dict():
        kind = item.get("type", "")
        if kind == "tensor":
            kind = f"tensor:{item.get('tensor-spec', {}).get('dtype', '')}"
        columns.append(Column(str(item.get("name") or ""), str(kind)))
    return tuple(columns)


def _example_rows(
    model_dir: Path, info: Any, columns: tuple[str, ...]
) -> tuple[tuple[Any, ...], ...]:
    """The logged input example as rows in ``columns`` order (pandas split or records)."""
    if not info.saved_input_example_info:
        return ()
    path = model_dir / info.saved_input_example_info.get("artifact_path", "input_example.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    if isinstance(data, dict) and "data" in data:  # pandas "split" orient
        given = list(data.get("columns") or columns)
        order = [given.index(c) for c in columns] if set(columns) <= set(given) else None
        rows = data["data"]
        return tuple(tuple(r[i] for i in order) if order else tuple(r) for r in rows)
    if isinstance(data, list) and data and isinstance(data[0], dict):  # records
        return tuple(tuple(r.get(c) for c in columns) for r in data)
    if isinstance(data, list):
        return tuple(tuple(r) if isinstance(r, list) else (r,) for r in data)
    return ()


def read_model_dir(
    model_dir: Path, *, name: str, version: str, run_id: str = "", source: str = ""
) -> ResolvedModel:
    """Read an MLflow model folder (its ``MLmodel``) into a :class:`ResolvedModel`."""
    from mlflow.models import Model

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise StepFailed(f"{model_dir} holds no MLmodel file: is it an MLflow model?")
    info = Model.load(str(mlmodel))
    flavours = tuple(info.flavors)
    flavour = next((f for f in NATIVE_FLAVOURS if f in flavours), PYFUNC)
    if flavour == PYFUNC and PYFUNC not in flavours:
        raise UserError(
            f"model {name} version {version} has no flavour somlier can serve "
            f"({', '.join(flavours) or 'none'})",
            hint="log it with mlflow.sklearn / xgboost / lightgbm, or as a python_function",
        )
    signature = info.signature
    inputs = _columns(signature.inputs if signature else None)
    outputs = _columns(signature.outputs if signature else None)
    requirements_file = model_dir / "requirements.txt"
    requirements: tuple[str, ...] = ()
    if requirements_file.is_file():
        lines = requirements_file.read_text(encoding="utf-8").splitlines()
        requirements = tuple(ln.strip() for ln in lines if ln.strip() and not ln.startswith("#"))
    return ResolvedModel(
        name=name,
        version=version,
        run_id=run_id or (info.run_id or ""),
        flavour=flavour,
        path=model_dir,
        inputs=inputs,
        outputs=outputs,
        input_example=_example_rows(model_dir, info, tuple(c.name for c in inputs)),
        flavours=flavours,
        source=source,
        requirements=requirements,
    )


def resolve_model(
    name: str, version: str, *, tracking_uri: str, dest: Path | None = None
) -> ResolvedModel:
    """Look up ``name``/``version`` in the registry at ``tracking_uri`` and download it.

    The files land in ``dest`` (default: a new temporary folder, left for the caller). An
    unknown model or version is a :class:`UserError`; an unreachable registry a
    :class:`StepFailed`.
    """
    from mlflow.exceptions import MlflowException

    from pipeline.online import tracking

    where = tracking.Tracking(tracking_uri, "environment")
    client = tracking.client(where)
    try:
        check_spelling(client, name, where.shown)
        found = client.get_model_version(name, str(version))
        download_uri = client.get_model_version_download_uri(name, str(version))
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise UserError(
                f"no version {version} of model {name!r} in the registry at {where.shown}",
                hint=_known_versions(client, name),
            ) from exc
        raise tracking.mlflow_failure(exc, where, f"looking up {name} version {version}") from exc
    target = dest or Path(tempfile.mkdtemp(prefix=f"somlier-{name}-{version}-"))
    target.mkdir(parents=True, exist_ok=True)
    mlflow = tracking.import_mlflow()
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=download_uri, dst_path=str(target), tracking_uri=tracking_uri
        )
    except (MlflowException, OSError) as exc:
        raise tracking.mlflow_failure(exc, where, f"downloading {name} version {version}") from exc
    return read_model_dir(
        Path(local),
        name=name,
        version=str(version),
        run_id=found.run_id or "",
        source=found.source or "",
    )


COMMIT_TAGS = ("somlier.commit", "mlflow.source.git.commit")


def source_commits(name: str, version: str, *, tracking_uri: str) -> tuple[str, ...]:
    """The commits the run of ``name``/``version`` was made from (its tags ``somlier.commit``
    and ``mlflow.source.git.commit``); none for an unknown version or an untagged run."""
    from mlflow.exceptions import MlflowException

    from pipeline.online import tracking

    where = tracking.Tracking(tracking_uri, "environment")
    client = tracking.client(where)
    try:
        found = client.get_model_version(name, str(version))
        tags = client.get_run(found.run_id).data.tags if found.run_id else {}
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return ()
        raise tracking.mlflow_failure(exc, where, f"looking up {name} version {version}") from exc
    return tuple(dict.fromkeys(str(tags[k]).lower() for k in COMMIT_TAGS if tags.get(k)))


def check_spelling(client: Any, name: str, shown: str) -> None:
    """Refuse ``name`` when the registry holds another model whose name differs from it only in
    case or separators (:func:`pipeline.online.model_names.model_key`): both would be served from
    one deploy folder and branch, under one allowlist."""
    from pipeline.online.model_names import model_key, spelling_clash

    key = model_key(name)
    pattern = key.replace("-", "%")  # then compared exactly: ILIKE only narrows the search
    token = None
    while True:
        page = client.search_registered_models(
            filter_string=f"name ILIKE '{pattern}'", max_results=1000, page_token=token
        )
        for model in page:
            if model.name != name and model_key(model.name) == key:
                raise spelling_clash(name, model.name, f"registered in {shown}")
        token = page.token
        if not token:
            return


def _known_versions(client: Any, name: str) -> str:
    from pipeline.online.registered import known_versions_hint

    return known_versions_hint(client, name)
