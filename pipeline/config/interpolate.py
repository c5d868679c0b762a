"""``${VAR}`` and ``${VAR:default}`` in string values; ``$${`` writes a literal ``${``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

KeyPath = tuple[str | int, ...]


class InterpolationError(ValueError):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Replace every ``${VAR}`` / ``${VAR:default}`` in ``text`` from ``environ``."""
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        body = match.group(1)
        if body is None:
            raise InterpolationError(
                "unterminated '${'", "close it with '}', or write '$${' for a literal '${'"
            )
        name, has_default, default = body.partition(":")
        if not _NAME.match(name):
            raise InterpolationError(
                f"{'${' + body + '}'!r} is not a variable reference",
                "write ${NAME} or ${NAME:default}, or '$${' for a literal '${'",
            )
        if name in environ:
            return environ[name]
        if has_default:
            return default
        raise InterpolationError(
            f"environment variable {name} is not set",
            f"set it, or give a default: ${{{name}:value}}",
        )

    return _TOKEN.sub(replace, text)


def interpolate_tree(
    data: Any, environ: Mapping[str, str], *, max_depth: int
) -> list[tuple[KeyPath, InterpolationError]]:
    """Interpolate every string value of ``data`` in place; return the failures with their paths.

    Iterative, so a deep document cannot exhaust the stack; deeper than ``max_depth`` is refused.
    Keys are never interpolated.
    """
    errors: list[tuple[KeyPath, InterpolationError]] = []
    stack: list[tuple[Any, KeyPath]] = [(data, ())]
    seen: set[int] = set()  # a container shared through a YAML alias is interpolated once
    while stack:
        container, path = stack.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        if len(path) >= max_depth:
            errors.append((path, InterpolationError(f"nesting deeper than {max_depth} levels")))
            continue
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in items:
            if isinstance(value, str):
                if "${" in value:
                    try:
                        container[key] = interpolate(value, environ)
                    except InterpolationError as exc:
                        errors.append(((*path, key), exc))
            elif isinstance(value, (dict, list)):
                stack.append((value, (*path, key)))
    return errors
