"""``${VAR}``, ``${VAR:default}`` and ``$${``: examples and properties."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.config import yamlsafe
from pipeline.config.interpolate import InterpolationError, interpolate, interpolate_tree
from pipeline.config.project import load_project

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
# Text around a reference: no "${" of its own, and not ending with "$" (which would turn the
# reference into the "$${" escape).
AROUND = st.text().filter(lambda s: "${" not in s and not s.endswith("$"))
SUFFIX = st.text().filter(lambda s: "${" not in s)
VALUES = st.text()  # anything at all: "$", "{", "}", "${", non-ASCII, newlines, NUL


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("", {}, ""),
        ("plain text", {}, "plain text"),
        ("$HOME and $ alone, {braces}, $$", {}, "$HOME and $ alone, {braces}, $$"),
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("${A}", {"A": ""}, ""),
        ("${A:fallback}", {}, "fallback"),
        ("${A:fallback}", {"A": "set"}, "set"),
        ("${A:fallback}", {"A": ""}, ""),  # set but empty is still set
        ("${A:}", {}, ""),
        ("${A:a:b}", {}, "a:b"),
        ("${A:with spaces and $$dollar}", {}, "with spaces and $$dollar"),
        ("${EPOCHS:3}", {}, "3"),
        ("$${A}", {"A": "x"}, "${A}"),
        ("$${", {}, "${"),
        ("a $${not} b ${A}", {"A": "x"}, "a ${not} b x"),
        ("$$${A}", {"A": "x"}, "$${A}"),
        ("${A}", {"A": "${B}", "B": "no"}, "${B}"),  # values are not expanded again
        ("${A}", {"A": "$${x}"}, "$${x}"),
        ("${_}", {"_": "u"}, "u"),
        ("${a_1}", {"a_1": "v"}, "v"),
        ("${A}", {"A": "수요 ✓"}, "수요 ✓"),
        ("${A}", {"A": "\\1 \\g<0>"}, "\\1 \\g<0>"),  # no regex replacement syntax
    ],
)
def test_examples(text: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate(text, environ) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${", "unterminated '${'"),
        ("abc ${A", "unterminated '${'"),
        ("${A:default", "unterminated '${'"),
        ("${}", "'${}' is not a variable reference"),
        ("${1A}", "'${1A}' is not a variable reference"),
        ("${A B}", "'${A B}' is not a variable reference"),
        ("${A-b}", "'${A-b}' is not a variable reference"),
        ("${:x}", "'${:x}' is not a variable reference"),
        (
            "${A:with spaces and ${dollar}",
            "'${A:…}': a default cannot hold another '${'",
        ),
        ("${A:${B}}", "'${A:…}': a default cannot hold another '${'"),
        ("${A:$${B}}", "'${A:…}': a default cannot hold another '${'"),
        ("${UNSET}", "environment variable UNSET is not set"),
        ("ok ${A} then ${UNSET}", "environment variable UNSET is not set"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate(text, {"A": "x"})
    assert info.value.message == message
    assert info.value.hint


def test_unset_hint_shows_the_default_syntax() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate("${TOKEN}", {})
    assert info.value.hint == "set it, or give a default: ${TOKEN:value}"


def test_unterminated_hint_mentions_the_escape() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate("${", {})
    assert "$${" in info.value.hint


# --- properties -------------------------------------------------------------------------------


@given(st.text().filter(lambda s: "${" not in s), st.dictionaries(NAMES, VALUES))
def test_text_without_a_reference_is_unchanged(text: str, environ: dict[str, str]) -> None:
    assert interpolate(text, environ) == text


@given(NAMES, VALUES, AROUND, SUFFIX)
@example("A", "${B}", "", "")
@example("A", "}{$", "$x", "}")
@example("A", "값 ✓ \n", "", "")
def test_a_reference_is_replaced_by_its_value(name: str, value: str, pre: str, post: str) -> None:
    assert interpolate(f"{pre}${{{name}}}{post}", {name: value, "OTHER": "x"}) == pre + value + post


@given(NAMES, st.text().filter(lambda s: "}" not in s and "${" not in s), AROUND, SUFFIX)
@example("A", "", "", "")
@example("A", "a:b:$c", "", "")
def test_a_default_is_used_when_unset(name: str, default: str, pre: str, post: str) -> None:
    text = f"{pre}${{{name}:{default}}}{post}"
    assert interpolate(text, {}) == pre + default + post


@given(NAMES, VALUES, st.text().filter(lambda s: "}" not in s and "${" not in s))
def test_a_set_variable_beats_the_default(name: str, value: str, default: str) -> None:
    assert interpolate(f"${{{name}:{default}}}", {name: value}) == value


@given(st.text(), st.dictionaries(NAMES, VALUES))
@example("$${", {})
@example("$$${A}", {"A": "x"})
@example("${${", {})
def test_escaping_round_trips(text: str, environ: dict[str, str]) -> None:
    """Writing every ``${`` as ``$${`` gives back the text as written, whatever the environment."""
    assert interpolate(text.replace("${", "$${"), environ) == text


@given(st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=5))
def test_several_references(pairs: list[tuple[str, str]]) -> None:
    environ = dict(pairs)
    text = " ".join(f"${{{name}}}" for name, _ in pairs)
    assert interpolate(text, environ) == " ".join(environ[name] for name, _ in pairs)


# --- interpolate_tree -------------------------------------------------------------------------


def test_tree_is_interpolated_in_place_and_keys_are_left_alone() -> None:
    data: dict[str, Any] = {
        "${KEY}": "${A}",
        "list": ["${A}", 3, None, True, ["x-${B:b}"]],
        "map": {"inner": "${A:default}"},
    }
    assert interpolate_tree(data, {"A": "a", "KEY": "k"}, max_depth=64, variables=None) == []
    assert data == {
        "${KEY}": "a",
        "list": ["a", 3, None, True, ["x-b"]],
        "map": {"inner": "a"},
    }


def test_tree_errors_carry_their_key_paths() -> None:
    data = {"a": {"b": ["ok", "${UNSET}"]}, "c": "${", "d": "${X}"}
    errors = interpolate_tree(data, {"X": "x"}, max_depth=64, variables=None)
    found = {path: exc.message for path, exc in errors}
    assert found == {
        ("a", "b", 1): "environment variable UNSET is not set",
        ("c",): "unterminated '${'",
    }
    assert data["d"] == "x"  # the other values are still interpolated


def test_tree_refuses_deep_nesting_without_recursion() -> None:
    data: Any = "leaf"
    for _ in range(5000):
        data = [data]
    errors = interpolate_tree({"deep": data}, {}, max_depth=64, variables=None)
    assert len(errors) == 1
    path, exc = errors[0]
    assert len(path) == 64
    assert exc.message == "nesting deeper than 64 levels"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text().filter(lambda s: "${" not in s),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_a_tree_without_references_is_unchanged(tree: Any) -> None:
    data = {"root": copy.deepcopy(tree)}
    assert interpolate_tree(data, {"A": "x"}, max_depth=64, variables=None) == []
    assert data == {"root": tree}


def test_the_examples_default_is_used() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "ml-projects" / "projects"
    config = load_project(examples / "demand-forecast" / "somlier.yaml", {})
    assert config.entrypoints["train"].args == ("train.py", "--epochs", "3")
    config = load_project(examples / "demand-forecast" / "somlier.yaml", {"EPOCHS": "10"})
    assert config.entrypoints["train"].args == ("train.py", "--epochs", "10")


def test_an_aliased_escape_is_interpolated_once() -> None:
    data = yamlsafe.load_text(b'a: &x ["$${literal}"]\nb: *x\n', "t.yaml").data
    assert interpolate_tree(data, {}, max_depth=64, variables=None) == []
    assert data == {"a": ["${literal}"], "b": ["${literal}"]}


def test_an_aliased_value_is_not_expanded_twice() -> None:
    data = yamlsafe.load_text(b'a: &x ["${A}"]\nb: *x\n', "t.yaml").data
    assert (
        interpolate_tree(data, {"A": "${B}", "B": "expanded"}, max_depth=64, variables=None) == []
    )
    assert data["a"] == ["${B}"]
