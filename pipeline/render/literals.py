"""Values as Python source: the one way a value enters generated Python.

:func:`pyrepr` writes ``repr``-style literals that ``ast.literal_eval`` reads back to an equal
value. It refuses what has no literal form (objects, NaN, infinities) instead of writing
something that would not parse, or would parse to something else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


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
