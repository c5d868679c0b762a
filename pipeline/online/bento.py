"""The BentoML service somlier generates for a registered model, and the folder that holds it.

:func:`stage_bundle` writes a self-contained folder: ``service.py`` (rendered from
``deploy_templates/bento/service.py.j2``), the model's MLflow files under ``model/``,
``requirements.txt`` and a ``bentofile.yaml``. ``bentoml serve service:Model`` in that folder
serves the model locally; ``bentoml build`` there packs it for Kubernetes.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.render import render

if TYPE_CHECKING:
    from pipeline.online.model_ref import ResolvedModel

TEMPLATE = "deploy_templates/bento/service.py.j2"
SERVICE_CLASS = "Model"
NUMERIC_TYPES = frozenset({"double", "float", "long", "integer", "boolean"})
NUMERIC_TENSORS = ("tensor:float", "tensor:int", "tensor:uint", "tensor:bool")
# Rows per model call: large enough that batching pays off under load, small enough that one
# batch never holds a request up for long.
MAX_BATCH_SIZE = 256
# What the generated service needs, beyond the model's own requirements. uvicorn (under
# BentoML) picks httptools and uvloop up when installed: the HTTP parsing and event loop in C.
SERVICE_REQUIREMENTS = ("bentoml>=1.4,<1.5", "numpy", "httptools", "uvloop")
_FLAVOUR_PACKAGE = {"sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm"}


@dataclass(frozen=True)
class Bundle:
    root: Path  # a folder holding service.py, the model under model/, requirements.txt
    service: str  # the BentoML service target, e.g. "service:Model"
    requirements: tuple[str, ...]  # pip requirements the service needs (bentoml, the flavour lib…)
    python_version: str


def service_name(model_name: str) -> str:
    """A BentoML service name for a model: lower case, ``[a-z0-9_]``."""
    name = re.sub(r"[^a-z0-9_]+", "_", model_name.lower()).strip("_")
    return name or "model"


def is_numeric(model: ResolvedModel) -> bool:
    """Whether every input is a numeric column (so requests become one float array)."""
    return bool(model.inputs) and all(
        c.type in NUMERIC_TYPES or c.type.startswith(NUMERIC_TENSORS) for c in model.inputs
    )


def render_service(model: ResolvedModel, *, workers: int | str = "cpu_count") -> str:
    """``service.py`` for ``model``; checked to parse as Python."""
    source = render(
        TEMPLATE,
        model_name=model.name,
        model_version=model.version,
        service_name=service_name(model.name),
        flavour=model.flavour,
        columns=tuple(c.name for c in model.inputs if c.name),
        numeric=is_numeric(model),
        max_batch_size=MAX_BATCH_SIZE,
        workers=workers,
    )
    ast.parse(source, filename="service.py")
    return source


def requirements_for(model: ResolvedModel) -> tuple[str, ...]:
    """The service's pip requirements: its own, then the model's (MLflow's pins win)."""
    pinned = {_project(r) for r in model.requirements}
    own = [r for r in SERVICE_REQUIREMENTS if _project(r) not in pinned]
    flavour_package = _FLAVOUR_PACKAGE.get(model.flavour)
    if flavour_package and flavour_package not in pinned:
        own.append(flavour_package)
    if "mlflow" not in pinned and "mlflow-skinny" not in pinned:
        own.append("mlflow-skinny")
    return (*own, *model.requirements)


def _project(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1).lower().replace("_", "-") if match else requirement


def stage_bundle(model: ResolvedModel, dest: Path, *, workers: int | str = "cpu_count") -> Bundle:
    """Write the service folder for ``model`` into ``dest`` (created; must be empty or absent).

    ``workers`` is BentoML's worker count: a number, or ``"cpu_count"`` (one per CPU).
    """
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model.path, dest / "model")
    (dest / "service.py").write_text(render_service(model, workers=workers), encoding="utf-8")
    requirements = requirements_for(model)
    (dest / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    target = f"service:{SERVICE_CLASS}"
    bentofile = {
        "service": target,
        "include": ["service.py", "model/**"],
        "python": {"requirements_txt": "requirements.txt"},
        "labels": {"somlier.model": model.name, "somlier.version": model.version},
    }
    # JSON is YAML: no YAML writer needed, and every value is quoted.
    (dest / "bentofile.yaml").write_text(json.dumps(bentofile, indent=2) + "\n", encoding="utf-8")
    return Bundle(
        root=dest, service=target, requirements=requirements, python_version=python_version
    )
