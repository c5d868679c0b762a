"""``yaml_scalar``: the one way a value enters generated YAML (manifests, Jobs, somlier.yaml)."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipeline.render import yaml_scalar

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(), c, max_size=4),
    max_leaves=12,
)


@given(VALUES)
def test_any_value_reads_back_equal_inside_a_document(value: object) -> None:
    document = f"key: {yaml_scalar(value)}\nafter: 1\n"
    assert yaml.safe_load(document) == {"key": value, "after": 1}


@pytest.mark.parametrize("text", ["a\u2028b", "x\x85y", "\ufeffz", "\x7f", "a\nb: c\n- d"])
def test_what_yaml_reads_as_a_break_is_escaped(text: str) -> None:
    quoted = str(yaml_scalar(text))
    assert "\n" not in quoted and "\u2028" not in quoted and "\x85" not in quoted
    assert yaml.safe_load(quoted) == text


@pytest.mark.parametrize("number", [1e16, -1e-07, 1e300, 0.5, 2.0])
def test_floats_read_back_as_floats(number: float) -> None:
    assert yaml.safe_load(str(yaml_scalar(number))) == number
    assert yaml.safe_load(str(yaml_scalar([number]))) == [number]


def test_hangul_stays_readable_and_nan_is_refused() -> None:
    assert str(yaml_scalar("이탈 예측")) == '"이탈 예측"'
    with pytest.raises(ValueError):
        yaml_scalar(math.nan)
