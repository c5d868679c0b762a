"""The one Jinja environment and its |pyrepr filter."""

from __future__ import annotations

import ast
import enum
import math
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.render import environment, pyrepr, render

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.binary()
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner)
        | st.tuples(inner)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text() | st.integers(), inner)
    ),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@given(VALUES)
def test_pyrepr_round_trips_through_literal_eval(value: Any) -> None:
    text = pyrepr(value)
    assert "\n" not in text and "\r" not in text
    assert _same(ast.literal_eval(text), value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("it's", '"it\'s"'),
        ('say "hi"', "'say \"hi\"'"),
        ("a\\b\nc", "'a\\\\b\\nc'"),
        ("\u2028\x00", "'\\u2028\\x00'"),
        ("한국어", "'한국어'"),
        ((), "()"),
        (("a",), "('a',)"),
        ({"k": [1, None]}, "{'k': [1, None]}"),
        (True, "True"),
        (-0.0, "-0.0"),
    ],
)
def test_pyrepr_examples(value: Any, text: str) -> None:
    assert pyrepr(value) == text


class Evil(str):
    def __repr__(self) -> str:
        return "__import__('os').system('x')"


class Level(enum.IntEnum):
    HIGH = 3


def test_pyrepr_ignores_overridden_repr() -> None:
    assert pyrepr(Evil("plain")) == "'plain'"
    assert pyrepr(Level.HIGH) == "3"
    assert pyrepr([Evil("x")]) == "['x']"


@pytest.mark.parametrize("value", [math.nan, math.inf, object(), {1, 2}, enum.Enum])
def test_pyrepr_refuses_values_without_a_literal(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        pyrepr(value)


def test_pyrepr_refuses_a_value_that_contains_itself() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        pyrepr(loop)


def test_environment_settings() -> None:
    env = environment()
    assert env is environment()  # one environment
    assert isinstance(env, jinja2.sandbox.SandboxedEnvironment)
    assert env.undefined is jinja2.StrictUndefined
    assert env.keep_trailing_newline
    assert not env.autoescape


def test_undefined_names_fail() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("x = {{ missing|pyrepr }}\n").render()


def test_unquoted_values_are_refused() -> None:
    template = environment().from_string("x = {{ value }}\n")
    with pytest.raises(TypeError, match=r"pass every value through \|pyrepr"):
        template.render(value="1; import os")


def test_no_html_escaping_and_trailing_newline_kept() -> None:
    out = environment().from_string("x = {{ v|pyrepr }}\n").render(v="<a & 'b'>")
    assert out == "x = \"<a & 'b'>\"\n"


def test_sandbox_blocks_dunder_access() -> None:
    template = environment().from_string("{{ v.__class__.__mro__|pyrepr }}")
    with pytest.raises(jinja2.exceptions.SecurityError):
        template.render(v="")


@pytest.mark.parametrize(
    "name", ["default.py.j2", "../pyproject.toml", "schemas/somlier.schema.json"]
)
def test_templates_are_named_with_their_folder(name: str) -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render(name)


def test_dag_templates_load() -> None:
    for name in ("default", "mlops"):
        assert environment().get_template(f"dag_templates/{name}.py.j2") is not None
