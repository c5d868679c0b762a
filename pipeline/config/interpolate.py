"""``${VAR}`` and ``${VAR:default}`` in string values; ``$${`` writes a literal ``${``.

A somlier.yaml reads only the variables its monorepo allows (:mod:`pipeline.config.variables`);
the platform's own settings file reads any. A value taken from the environment is recorded with
the text it replaced (:class:`FromEnv`), so that an error about it shows ``${VAR}``, not the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config.variables import Variables

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

KeyPath = tuple[str | int, ...]


class InterpolationError(ValueError):
    def __init__(self, message: str, hint: str = "", source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.source = source  # the ``${...}`` at fault, as written (to point at it)


def _read(text: str, environ: Mapping[str, str], variables: Variables | None) -> tuple[str, bool]:
    """``text`` interpolated, and whether any part of it came from the environment."""
    used_env = False

    def replace(match: re.Match[str]) -> str:
        nonlocal used_env
        token = match.group(0)
        if token == "$${":
            return "${"
        body = match.group(1)
        if body is None:
            raise InterpolationError(
                "unterminated '${'",
                "close it with '}', or write '$${' for a literal '${'",
                token,
            )
        name, has_default, default = body.partition(":")
        if not _NAME.match(name):
            raise InterpolationError(
                f"{token!r} is not a variable reference",
                "write ${NAME} or ${NAME:default}, NAME being ASCII letters, digits and _ without "
                "spaces; or '$${' for a literal '${'",
                token,
            )
        if "${" in default:
            raise InterpolationError(
                f"'${{{name}:…}}': a default cannot hold another '${{'",
                "write the default itself, or '$${' for a literal '${'",
                token,
            )
        if variables is not None:
            refused = variables.refusal(name)
            if refused is not None:
                raise InterpolationError(refused.message, refused.hint, token)
        if name in environ:
            used_env = True
            return environ[name]
        if has_default:
            return default
        raise InterpolationError(
            f"environment variable {name} is not set",
            f"set it, or give a default: ${{{name}:value}}",
            token,
        )

    return _TOKEN.sub(replace, text), used_env


def interpolate(text: str, environ: Mapping[str, str], variables: Variables | None = None) -> str:
    """Replace every ``${VAR}`` / ``${VAR:default}`` in ``text`` from ``environ``; with
    ``variables``, only the names they allow are read (the others raise)."""
    if "${" not in text:
        return text
    return _read(text, environ, variables)[0]


Read = tuple[KeyPath, str, str]  # where, as written, as read


def scrub(read: Iterable[Read], path: KeyPath, text: str) -> str:
    """``text`` (a message about ``path``) with every value read for ``path``, a key under it,
    or a key above it replaced by the text it was read from."""
    pairs = [
        (value, written)
        for where, written, value in read
        if value and (where[: len(path)] == path or path[: len(where)] == where)
    ]
    for value, written in sorted(pairs, key=lambda p: -len(p[0])):
        text = text.replace(value, written)
    return text


class FromEnv:
    """The strings of one document that took a value from the environment."""

    def __init__(self) -> None:
        self.values: dict[KeyPath, tuple[str, str]] = {}

    def entries(self) -> tuple[Read, ...]:
        return tuple((where, w, v) for where, (w, v) in self.values.items())

    def scrub(self, path: KeyPath, text: str) -> str:
        return scrub(self.entries(), path, text) if self.values else text


def interpolate_tree(
    data: Any,
    environ: Mapping[str, str],
    *,
    max_depth: int,
    variables: Variables | None,
    from_env: FromEnv | None = None,
) -> list[tuple[KeyPath, InterpolationError]]:
    """Interpolate every string value of ``data`` in place; return the failures with their paths.

    ``variables`` is the rule of a somlier.yaml (None only for the platform's own settings).
    Strings that took a value from the environment are recorded in ``from_env``.
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
                        container[key], used_env = _read(value, environ, variables)
                    except InterpolationError as exc:
                        errors.append(((*path, key), exc))
                        continue
                    if used_env and from_env is not None:
                        where: KeyPath = (*path, key)
                        from_env.values[where] = (value, container[key])
            elif isinstance(value, (dict, list)):
                stack.append((value, (*path, key)))
    return errors
