"""The generated BentoML service and its bundle, parsed back and checked: AST, not substrings."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.online.bento import (
    Bundle,
    is_numeric,
    render_service,
    requirements_for,
    service_name,
    stage_bundle,
)
from pipeline.online.model_ref import Column, ResolvedModel

COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def model(tmp_path: Path, **changes: Any) -> ResolvedModel:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "model.skops").write_bytes(b"\x00weights")
    values: dict[str, Any] = {
        "name": "iris-classifier",
        "version": "3",
        "run_id": "abc123",
        "flavour": "sklearn",
        "path": folder,
        "inputs": tuple(Column(c, "double") for c in COLUMNS),
        "outputs": (Column("", "tensor:int64"),),
        "input_example": ((5.1, 3.5, 1.4, 0.2),),
        "requirements": ("mlflow==3.17.2", "scikit-learn==1.9.1", "numpy==2.4.6"),
    }
    values.update(changes)
    return ResolvedModel(**values)


def constants(source: str) -> dict[str, Any]:
    """Module-level ``NAME = literal`` assignments of generated code, evaluated safely."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return found


def service_decorator(source: str) -> dict[str, Any]:
    """The keyword arguments of ``@bentoml.service(...)`` on class ``Model``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Attribute)
                    and deco.func.attr == "service"
                ):
                    return {
                        k.arg: ast.literal_eval(k.value)
                        if not isinstance(k.value, ast.Name)
                        else k.value.id
                        for k in deco.keywords
                        if k.arg
                    }
    raise AssertionError("no @bentoml.service on class Model")


def test_service_carries_the_models_facts(tmp_path: Path) -> None:
    source = render_service(model(tmp_path), workers=2)
    values = constants(source)
    assert values["MODEL_NAME"] == "iris-classifier"
    assert values["MODEL_VERSION"] == "3"
    assert values["FLAVOUR"] == "sklearn"
    assert values["COLUMNS"] == COLUMNS
    assert values["NUMERIC"] is True
    assert values["WORKERS"] == 2
    assert values["MAX_BATCH_SIZE"] >= 16
    decorator = service_decorator(source)
    assert decorator["name"] == "iris_classifier"
    assert decorator["workers"] == "WORKERS"
    # the hot path carries no per-request logging or metrics
    assert decorator["metrics"] == {"enabled": False}
    assert decorator["logging"] == {"access": {"enabled": False}}


def test_workers_default_to_one_per_cpu(tmp_path: Path) -> None:
    assert constants(render_service(model(tmp_path)))["WORKERS"] == "cpu_count"


def test_hostile_names_stay_data(tmp_path: Path) -> None:
    nasty = "x'); import os; os.system('boom'); ('"
    resolved = model(tmp_path, inputs=(Column(nasty, "double"), Column('a"b\n', "double")))
    source = render_service(resolved)
    assert constants(source)["COLUMNS"] == (nasty, 'a"b\n')
    calls = [
        n.func.attr
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    ]
    assert "system" not in calls


def test_strings_or_no_signature_go_through_pyfunc_frames(tmp_path: Path) -> None:
    strings = model(tmp_path, inputs=(Column("text", "string"),))
    assert not is_numeric(strings)
    assert constants(render_service(strings))["NUMERIC"] is False
    unsigned = model(tmp_path, inputs=())
    assert not is_numeric(unsigned)
    tensor = model(tmp_path, inputs=(Column("", "tensor:float32"),))
    assert is_numeric(tensor)
    assert constants(render_service(tensor))["COLUMNS"] == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("iris-classifier", "iris_classifier"), ("My.Model_2", "my_model_2"), ("---", "model")],
)
def test_service_name(name: str, expected: str) -> None:
    assert service_name(name) == expected


def test_requirements_keep_the_models_pins(tmp_path: Path) -> None:
    reqs = requirements_for(model(tmp_path))
    assert reqs[0].startswith("bentoml")
    assert "numpy==2.4.6" in reqs and "numpy" not in reqs
    assert "scikit-learn==1.9.1" in reqs
    assert not any(r.startswith("mlflow-skinny") for r in reqs)  # mlflow itself is pinned


def test_requirements_add_the_flavour_library_when_unpinned(tmp_path: Path) -> None:
    reqs = requirements_for(model(tmp_path, flavour="xgboost", requirements=()))
    assert set(reqs) == {
        "bentoml>=1.4,<1.5",
        "numpy",
        "httptools",
        "uvloop",
        "xgboost",
        "mlflow-skinny",
    }


def test_stage_bundle_writes_a_servable_folder(tmp_path: Path) -> None:
    bundle = stage_bundle(model(tmp_path), tmp_path / "bundle", workers=1)
    assert isinstance(bundle, Bundle)
    assert bundle.service == "service:Model"
    assert sorted(p.name for p in bundle.root.iterdir()) == [
        "bentofile.yaml",
        "model",
        "requirements.txt",
        "service.py",
    ]
    assert (bundle.root / "model" / "model.skops").read_bytes() == b"\x00weights"
    assert constants((bundle.root / "service.py").read_text())["WORKERS"] == 1
    lines = (bundle.root / "requirements.txt").read_text().splitlines()
    assert tuple(lines) == bundle.requirements
    bentofile = json.loads((bundle.root / "bentofile.yaml").read_text())
    assert bentofile["service"] == bundle.service
    assert bentofile["python"] == {"requirements_txt": "requirements.txt"}
    assert bentofile["labels"] == {"somlier.model": "iris-classifier", "somlier.version": "3"}
    assert bundle.python_version.count(".") == 1


def test_stage_bundle_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        stage_bundle(model(tmp_path), tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_example_request_uses_the_first_example_row(tmp_path: Path) -> None:
    assert model(tmp_path).example_request() == {"inputs": [[5.1, 3.5, 1.4, 0.2]]}
    bare = model(tmp_path, input_example=(), inputs=(Column("n", "long"), Column("s", "string")))
    assert bare.example_request() == {"inputs": [[0, ""]]}
