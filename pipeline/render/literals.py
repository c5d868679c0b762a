"""Values as Python source: the one way a value enters generated Python.

:func:`pyrepr` writes ``repr``-style literals that ``ast.literal_eval`` reads back to an equal
value. It refuses what has no literal form (objects, NaN, infinities) instead of writing
something that would not parse, or would parse to something else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


class Quoted(str):
    """Text that is already quoted for the output language (what a quoting filter returns).

    The environment's ``finalize`` lets only such text into a template's output, so a value
    that skipped ``|pyrepr`` fails the render instead of landing in the file unquoted.
    """

    __slots__ = ()


def pyrepr(value: Any) -> Quoted:
    """``value`` as a Python literal that :func:`ast.literal_eval` turns back into ``value``.

    Supported: ``None``, ``bool``, ``int``, finite ``float``, ``str``, ``bytes``, and lists,
    tuples and mappings of those (tuples stay tuples; use Jinja's ``|list`` for a list).
    Subclasses are written as their base type (an ``IntEnum`` as its number), never through a
    ``__repr__`` they may override.
    """
    return Quoted(_literal(value, set()))


def yaml_scalar(value: Any) -> Quoted:
    """``value`` as a YAML flow scalar or collection: JSON text (JSON is YAML), so no value can
    change the structure of the document it is written into. Text stays readable (Hangul is
    written as is), but what YAML would read as a line break or refuses (C1 controls,
    U+2028/U+2029, BOM, lone surrogates) is escaped, and a float always has a dot (YAML 1.1
    reads ``1e+16`` as text). NaN and infinities are refused."""
    text = _json(value)
    return Quoted(_YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def _json(value: Any) -> str:
    import json

    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no YAML form somlier writes")
        text = repr(value)
        if "e" in text and "." not in text:
            mantissa, _, exponent = text.partition("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}: {_json(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _literal(value: Any, seen: set[int]) -> str:
    # bool before int: True is an int.
    if value is None or isinstance(value, bool):
        return "None" if value is None else ("True" if value else "False")
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Python literal; pass a finite number")
        return float.__repr__(value)
    if isinstance(value, str):
        # str.__repr__ escapes quotes, backslashes, line breaks and every non-printable
        # character, so the literal is one physical line whatever the text holds.
        return str.__repr__(value)
    if isinstance(value, bytes):
        return bytes.__repr__(value)
    if isinstance(value, (list, tuple, Mapping)):
        if id(value) in seen:
            raise ValueError("a value that contains itself has no Python literal")
        seen.add(id(value))
        try:
            return _container(value, seen)
        finally:
            seen.discard(id(value))
    raise TypeError(
        f"a {type(value).__name__} has no Python literal: pass None, bool, int, float, str, "
        "bytes, or a list, tuple or mapping of those"
    )


def _container(value: list[Any] | tuple[Any, ...] | Mapping[Any, Any], seen: set[int]) -> str:
    if isinstance(value, Mapping):
        items = ", ".join(f"{_literal(k, seen)}: {_literal(v, seen)}" for k, v in value.items())
        return "{" + items + "}"
    parts = [_literal(v, seen) for v in value]
    if isinstance(value, list):
        return "[" + ", ".join(parts) + "]"
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"
