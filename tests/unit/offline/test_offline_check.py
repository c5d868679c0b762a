"""check_dag: a DAG file holds exactly what the templates write, and the spec's values."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.errors import EXIT_USER_ERROR
from pipeline.offline import contract
from pipeline.offline.dag import DagCheckError, check_dag, render_dag
from pipeline.offline.spec import DagSpec


@pytest.fixture
def good(specs: list[DagSpec]) -> tuple[str, DagSpec]:
    return render_dag(specs[1]), specs[1]


def _refused(source: str, spec: DagSpec | None, *needles: str) -> DagCheckError:
    with pytest.raises(DagCheckError) as info:
        check_dag(source, spec, path="dags/x.py")
    text = info.value.render()
    for needle in needles:
        assert needle in text, text
    assert info.value.exit_code == EXIT_USER_ERROR
    return info.value


def test_rendered_files_pass(specs: list[DagSpec]) -> None:
    for spec in specs:
        source = render_dag(spec)
        check_dag(source, spec)
        check_dag(source)  # the shape alone


def test_extra_call_is_refused(good: tuple[str, DagSpec]) -> None:
    source, spec = good
    err = _refused(
        source + "print('hello')\n", spec, "expected 4 statements", "unexpected call to print()"
    )
    assert err.diagnostics[0].line == source.count("\n") + 1


def test_extra_import_is_refused(good: tuple[str, DagSpec]) -> None:
    source, spec = good
    tampered = source.replace("import pendulum\n", "import pendulum\nimport os\n")
    _refused(tampered, spec, "expected 4 statements")
    swapped = source.replace("import pendulum\n", "import os as pendulum\n")
    _refused(swapped, spec, "expected 'import pendulum'")


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            "project_name='churn-model'",
            "project_name=__import__('os').system('id')",
            "call to __import__('os').system()",
        ),
        ("namespace='batch'", "namespace=f'{dag}'", "JoinedStr"),
        ("cpu='2'", "cpu=pendulum.__name__", "unexpected attribute '__name__'"),
        ("memory='8Gi'", "memory='8' + 'Gi'", "BinOp"),
        ("secrets=[]", "secrets=[x for x in ()]", "ListComp"),
        ("gpu_type='nvidia-tesla-t4'", "gpu_type=(lambda: 1)()", "Lambda"),
        ("num_of_gpus=2", "num_of_gpus=set()", "unexpected call to set()"),
    ],
)
def test_code_inside_arguments_is_refused(
    good: tuple[str, DagSpec], old: str, new: str, needle: str
) -> None:
    source, spec = good
    assert old in source
    _refused(source.replace(old, new), spec, needle)
    _refused(source.replace(old, new), None, needle)


def test_values_must_be_the_spec_values(good: tuple[str, DagSpec]) -> None:
    source, spec = good
    other = source.replace("registry.example.com/ml/ml-churn-model:stable", "evil.io/x:1")
    _refused(
        other, spec, "ml_project_docker_image=) is 'evil.io/x:1'", "is not a value of the spec"
    )
    check_dag(other)  # the shape is fine: only the spec can tell
    _refused(source.replace("catchup=True", "catchup=1"), spec, "catchup=) is 1")
    _refused(source.replace("retries': 1", "retries': True"), spec, "default_args=)")
    _refused(source.replace("tz='UTC'", "tz='Asia/Seoul'"), spec, "start_date must be")
    _refused(
        source.replace("pendulum.datetime(2024, 6, 1,", "pendulum.datetime(2024, 6, 2,"),
        spec,
        "start_date must be pendulum.datetime(2024, 6, 1, tz='UTC')",
    )


def test_arguments_must_be_the_contract(good: tuple[str, DagSpec]) -> None:
    source, spec = good
    _refused(
        source.replace("schedule='30 2 * * 1-5'", "schedule_interval='30 2 * * 1-5'"),
        spec,
        "unexpected argument schedule_interval=",
        "lacks schedule=",
    )
    _refused(source.replace("        secrets=[],\n", ""), spec, "lacks secrets=")


def test_block_shape(good: tuple[str, DagSpec]) -> None:
    source, spec = good
    twice = source.replace(") as dag:\n", ") as dag:\n    MLOpsOfflineOperator(task_id='b')\n")
    _refused(twice, spec, "expected one 'with DAG(...) as dag:' block")
    positional = source.replace("MLOpsOfflineOperator(\n", "MLOpsOfflineOperator('x',\n")
    _refused(positional, spec, "expected one 'with DAG(...) as dag:' block")
    _refused("def broken(:\n", None, "not Python")


def test_render_dag_treats_a_failed_check_as_a_bug(
    monkeypatch: pytest.MonkeyPatch, specs: list[DagSpec]
) -> None:
    def wrong(spec: DagSpec) -> dict[str, object]:
        return {**real(spec), "namespace": "elsewhere"}

    real = contract.operator_arguments
    monkeypatch.setattr(contract, "operator_arguments", wrong)
    with pytest.raises(RuntimeError, match="failed its check"):
        render_dag(dataclasses.replace(specs[0]))


@pytest.mark.parametrize(
    "cookie", ["# -*- coding: utf-7 -*-", "# vim: set fileencoding=latin-1", "# coding=bogus"]
)
def test_an_encoding_declaration_is_refused(good: tuple[str, DagSpec], cookie: str) -> None:
    """Python honours a coding comment on line 1 or 2 when it reads the file's bytes; under
    UTF-7, ``+AAo-`` inside a string literal is a line break, and code after it would run."""
    source, spec = good
    lines = source.split("\n")
    tampered = "\n".join([lines[0], cookie, *lines[2:]])
    _refused(tampered, spec, "declares the encoding")
    _refused(tampered, None, "declares the encoding")
    check_dag("\n".join([lines[0], "# coding: utf-8", *lines[2:]]), spec)
