"""Any text a user can put in a DAG enters it as a literal: the rendered file parses, holds only
the expected code, and every value reads back (ast.literal_eval) to the input."""

from __future__ import annotations

import ast
import datetime
import io
import shlex
import tokenize
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config.settings import PlatformSettings, Toleration
from pipeline.offline import spec
from pipeline.offline.dag import check_dag, render_dag
from pipeline.offline.spec import DagSpec, MLflowTarget, Source

NASTY = st.sampled_from(
    [
        "'",
        '"',
        '"""',
        "'''",
        "\\",
        "\\'",
        "\n",
        "\r",
        "\r\n",
        "\x0c",
        "\x00",
        "\u2028",
        "\x85",
        "{{ dag }}",
        "{{",
        "}}",
        "{% if x %}",
        "{% endif %}",
        "{#",
        "#}",
        "{%- raw -%}",
        "é",
        "한국어",
        "🙂",
        "\t",
        "${HOME}",
        "__import__('os').system('id')",
        "\\N{BULLET}",
        "\\x00",
        "-*- coding: utf-7 -*-",
        "coding=latin-1",
        "+AAo-import os+AAo-",
        "\u202e",
        ")\nimport os\n(",
        "# comment",
        "\ufeff",
    ]
)
TEXT = st.lists(st.text(max_size=8) | NASTY, max_size=5).map("".join)
MAYBE = st.none() | TEXT
TOLERATIONS = st.builds(Toleration, key=TEXT, operator=MAYBE, value=MAYBE, effect=MAYBE)


@st.composite
def dag_specs(draw: st.DrawFn) -> DagSpec:
    mlops = draw(st.booleans())
    gpu = draw(st.none() | st.tuples(TEXT, st.integers(1, 8)))
    return DagSpec(
        dag_id=draw(st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)),
        schedule=draw(st.sampled_from([None, "@daily", "@once", "0 9 * * *", "*/5 1-3 * * 1"])),
        template="mlops" if mlops else "default",
        project_name=draw(TEXT),
        image=draw(TEXT),
        # `run NAME` (the pod contract: pipeline/offline/pod.py), then any text as its arguments.
        command=(
            "run",
            draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
            *draw(st.lists(TEXT, max_size=4)),
        ),
        description=draw(TEXT),
        owner=draw(TEXT),
        tags=tuple(draw(st.lists(TEXT, max_size=3))),
        retries=draw(st.integers(0, 20)),
        timezone=draw(st.sampled_from(["Asia/Seoul", "UTC", "America/New_York"])),
        start_date=draw(st.dates(datetime.date(1970, 1, 1), datetime.date(2100, 1, 1))),
        catchup=draw(st.booleans()),
        namespace=draw(TEXT),
        cpu=draw(MAYBE),
        memory=draw(MAYBE),
        gpu_type=gpu[0] if gpu else None,
        num_of_gpus=gpu[1] if gpu else 0,
        node_selector=tuple(draw(st.dictionaries(TEXT, TEXT, min_size=1, max_size=3)).items())
        if gpu
        else (),
        tolerations=tuple(draw(st.lists(TOLERATIONS, max_size=2))) if gpu else (),
        secrets=tuple(draw(st.lists(TEXT, max_size=2))),
        mlflow=MLflowTarget(tracking_uri=draw(TEXT), model_name=draw(TEXT), model_alias=draw(TEXT))
        if mlops
        else None,
        source=Source(
            project=draw(MAYBE),
            path=draw(MAYBE),
            job=draw(st.none() | st.integers(0, 99)),
            commit=draw(MAYBE),
        ),
    )


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(k) | _strings(v) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_strings(v) for v in value))
    return set()


def _read_back(source: str) -> tuple[dict[str, Any], dict[str, Any], ast.Module]:
    tree = ast.parse(source)
    block = tree.body[-1]
    assert isinstance(block, ast.With) and isinstance(block.body[0], ast.Expr)
    dag_call, op_call = block.items[0].context_expr, block.body[0].value
    assert isinstance(dag_call, ast.Call) and isinstance(op_call, ast.Call)
    dag = {k.arg: k.value for k in dag_call.keywords if k.arg}
    op = {k.arg: ast.literal_eval(k.value) for k in op_call.keywords if k.arg}
    return dag, op, tree


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_specs())
def test_any_text_renders_as_literals(spec_: DagSpec) -> None:
    source = render_dag(spec_)  # raises when its own check fails
    check_dag(source, spec_)
    dag, op, tree = _read_back(source)

    assert op["project_name"] == spec_.project_name
    assert op["ml_project_docker_image"] == spec_.image
    assert op["command"] == list(spec_.command)
    assert op["namespace"] == spec_.namespace
    assert (op["cpu"], op["memory"]) == (spec_.cpu, spec_.memory)
    assert (op["gpu_type"], op["num_of_gpus"]) == (spec_.gpu_type, spec_.num_of_gpus)
    assert op["node_selector"] == dict(spec_.node_selector)
    assert len(op["tolerations"]) == len(spec_.tolerations)
    for got, want in zip(op["tolerations"], spec_.tolerations, strict=True):
        assert got["key"] == want.key and got.get("operator") == want.operator
        assert got.get("value") == want.value and got.get("effect") == want.effect
    assert op["secrets"] == list(spec_.secrets)
    if spec_.mlflow is None:
        assert op["mlflow"] is None and op["slack_on_failure"] is False
    else:
        assert op["mlflow"] == {
            "tracking_uri": spec_.mlflow.tracking_uri,
            "model_name": spec_.mlflow.model_name,
            "model_alias": spec_.mlflow.model_alias,
        }
        assert op["slack_on_failure"] is True
    assert ast.literal_eval(dag["dag_id"]) == spec_.dag_id
    assert ast.literal_eval(dag["schedule"]) == spec_.schedule
    assert ast.literal_eval(dag["description"]) == spec_.description
    assert ast.literal_eval(dag["tags"]) == list(spec_.tags)
    assert ast.literal_eval(dag["default_args"])["owner"] == spec_.owner

    # Every string in the file is one of the inputs (or a key the contract names).
    inputs = _strings(op) | _strings([spec_.dag_id, spec_.schedule, spec_.description])
    inputs |= _strings([list(spec_.tags), spec_.owner, spec_.timezone])
    inputs |= {"owner", "retries", "depends_on_past"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value in inputs

    # Read as Airflow reads it: UTF-8 bytes, no other encoding declared.
    assert tokenize.detect_encoding(io.BytesIO(source.encode()).readline)[0] == "utf-8"
    assert ast.dump(ast.parse(source.encode())) == ast.dump(tree)

    # The header stays comments: no input breaks out of it.
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    header = [t for t in tokens if t.type == tokenize.COMMENT]
    assert all(t.start[0] <= 6 for t in header)
    first_code = next(t for t in tokens if t.type == tokenize.NAME)
    assert (first_code.string, first_code.start[0]) == ("import", len(header) + 2)


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_create_commands_split_back_to_their_words(words: list[str]) -> None:
    """offline create COMMAND: shell-quoted words come back as the same list."""
    words = ["run", "main", *words]
    made = spec.from_create(
        image="gcr.io/p/ml-x:latest",
        schedule="@daily",
        command=shlex.join(words),
        dag_id="fuzzed",
        template="default",
        settings=PlatformSettings(),
    )
    _, op, _ = _read_back(render_dag(made))
    assert op["command"] == words
