"""What change detection needs from a somlier.yaml it does not validate: the project's name and
its ``depends_on`` globs, read leniently (a file that fails here fails ``somlier validate``).

Change detection reads every file that mentions ``depends_on`` (any project may declare it; which
files mention it is kept between runs, see :mod:`pipeline.monorepo.snapshot`) and a global change
names every project, so the usual block-style spelling (``project:`` then ``  name: x`` and
``  depends_on: [a, "b/**"]`` or a ``- item`` list) is read by a line scan, 50 times faster than a
YAML parser. Anything else (flow style, ``${VAR}``, anchors, escapes, a value YAML would read as
a number or a boolean) goes through the safe YAML loader and ``${VAR}`` interpolation, like a
validated file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config.variables import Variables

Rule = Callable[[], "Variables"]  # the monorepo's ${VAR} rule, looked up only when needed

_KEY = re.compile(r"project[ \t]*:[ \t]*(?:#.*)?\Z")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./*?-]*\Z")
_TYPED = re.compile(r"(?i:true|false|yes|no|on|off|null|~)\Z|[-+.]?[0-9]")


def _block(text: str) -> list[tuple[int, str]] | None:
    """(indent, text) of each line of the top-level ``project:`` block; None if not there."""
    lines = text.lstrip("\ufeff").split("\n")
    start = next((i for i, line in enumerate(lines) if _KEY.match(line)), None)
    if start is None:
        return None
    found: list[tuple[int, str]] = []
    for line in lines[start + 1 :]:
        stripped = line.lstrip(" ")
        if not stripped.strip() or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent == 0:
            break
        found.append((indent, stripped.rstrip()))
    return found or None


def _item(raw: str) -> str | None:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return None if text[0] in inner or "\\" in inner or "$" in inner else inner
    return text if _PLAIN.match(text) and not _TYPED.match(text) else None


def quick_name(text: str) -> str | None:
    """``project.name`` when spelled the usual way; None when it takes a parser."""
    block = _block(text)
    if block is None:
        return None
    indent = block[0][0]
    for depth, line in block:
        if depth < indent:
            return None
        if depth == indent and line.startswith("name:"):
            value = _item(line[5:].split(" #", 1)[0])
            return value if value is not None and _NAME.match(value) else None
    return None


def quick_depends_on(text: str) -> tuple[str, ...] | None:
    """``project.depends_on`` when spelled the usual way; None when it takes a parser."""
    block = _block(text)
    if block is None:
        return None
    indent = block[0][0]
    for index, (depth, line) in enumerate(block):
        if depth < indent:
            return None
        if depth != indent or not line.startswith("depends_on:"):
            continue
        rest = line[len("depends_on:") :].strip()
        if "#" in rest:
            return None
        if rest.startswith("[") and rest.endswith("]"):
            inner = rest[1:-1]
            if any(c in inner for c in "[]{}"):
                return None
            raw = [part for part in inner.split(",") if part.strip()]
        elif not rest:
            raw = []
            for deeper, item in block[index + 1 :]:
                # YAML lets a list under a key start at the key's own indentation.
                if deeper < indent or (deeper == indent and not item.startswith("- ")):
                    break
                if not item.startswith("- ") or "#" in item:
                    return None
                raw.append(item[2:])
        else:
            return None
        items = [_item(part) for part in raw]
        return None if any(i is None for i in items) else tuple(i for i in items if i)
    return ()


def _load(text: str, shown: str, environ: Mapping[str, str], rule: Rule) -> dict[str, Any] | None:
    # Imported here: the YAML loader costs more to import (about 25 ms) than the line scan
    # costs for 10,000 files, and most runs never need it.
    from pipeline.config import yamlsafe
    from pipeline.config.interpolate import interpolate_tree
    from pipeline.errors import ConfigError

    try:
        data = yamlsafe.load_text(text.encode("utf-8"), shown).data
    except ConfigError:
        return None
    if "${" in text and interpolate_tree(
        data, environ, max_depth=yamlsafe.MAX_DEPTH, variables=rule()
    ):
        return None  # a variable that is not allowed or not set: validate reports it
    project = data.get("project") if isinstance(data, dict) else None
    return project if isinstance(project, dict) else None


def name(text: str, shown: str, environ: Mapping[str, str], rule: Rule) -> str | None:
    """The project's name, or None when the file does not say (the caller uses the folder's)."""
    quick = quick_name(text)
    if quick is not None:
        return quick
    project = _load(text, shown, environ, rule)
    value = project.get("name") if project is not None else None
    return value if isinstance(value, str) and value else None


MENTION = "depends_on"  # a file whose text does not hold this declares no depends_on


def mentions_depends_on(text: str) -> bool:
    """Whether the file may declare ``depends_on``: one that does not mention it declares none."""
    return MENTION in text


def depends_on(text: str, shown: str, environ: Mapping[str, str], rule: Rule) -> tuple[str, ...]:
    """The ``project.depends_on`` globs (a file that does not mention it is not parsed)."""
    if not mentions_depends_on(text):
        return ()
    quick = quick_depends_on(text)
    if quick is not None:
        return quick
    project = _load(text, shown, environ, rule)
    globs = project.get("depends_on") if project is not None else None
    if not isinstance(globs, list):
        return ()
    return tuple(g for g in globs if isinstance(g, str) and g)
