"""Path globs of ``project.depends_on`` and ``monorepo.global_paths``, compiled once.

Patterns are relative to the repository root and anchored there (like git's ``:(glob)``
pathspecs): ``*`` and ``?`` stay inside one path segment, ``[…]`` is a character class,
``**`` spans folders as in gitignore (``libs/**``, ``**/x.py``, ``a/**/b``). A pattern also
matches everything below what it names, so ``libs/common`` and ``libs/common/`` mean the folder.

:class:`GlobIndex` answers "which patterns match this path" for many paths and many patterns:
each pattern is filed under its literal leading folders (``libs/common`` for ``libs/common/*.py``)
and a path only tries the patterns filed under one of its own folders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_MAGIC = frozenset("*?[")


def normalize(pattern: str) -> str:
    """The pattern as it is matched: no ``./`` or ``/`` in front, ``dir/`` meaning ``dir/**``."""
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    if text.endswith("/"):
        text += "**"
    return text


def _segment(segment: str) -> str:
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            start = i + 1
            if segment[start : start + 1] in ("!", "^"):
                start += 1
            if segment[start : start + 1] == "]":  # a leading "]" is part of the class
                start += 1
            end = segment.find("]", start)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                body = re.sub(r"([\\^\[\]&~|])", r"\\\1", body)
                out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def translate(pattern: str) -> str:
    """The regular expression (for ``fullmatch``) of a normalized pattern."""
    parts = pattern.split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            # "a/**" is everything inside a; "**/b" and "a/**/b" also allow no folder at all.
            out.append(".+" if last else "(?:[^/]+/)*")
        else:
            out.append(_segment(part) + ("" if last else "/"))
    regex = "".join(out)
    return regex if pattern.endswith("**") else regex + "(?:/.*)?"


def literal_prefix(pattern: str) -> str:
    """The leading folders of a normalized pattern that hold no wildcard (``""`` for none)."""
    parts = pattern.split("/")
    literal: list[str] = []
    for part in parts:
        if _MAGIC.intersection(part):
            break
        literal.append(part)
    return "/".join(literal)


def ancestors(path: str) -> Iterable[str]:
    """``a/b/c`` → ``a/b/c``, ``a/b``, ``a``, ``""``."""
    while path:
        yield path
        cut = path.rfind("/")
        path = path[:cut] if cut > 0 else ""
    yield ""


class GlobIndex(Generic[T]):
    """Many patterns, each with a payload; :meth:`matches` yields ``(pattern, payload)``."""

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        compiled: dict[str, re.Pattern[str]] = {}
        self._by_prefix: dict[str, list[tuple[str, re.Pattern[str], T]]] = {}
        for pattern, payload in entries:
            norm = normalize(pattern)
            if not norm:
                continue
            regex = compiled.get(norm)
            if regex is None:
                regex = compiled[norm] = re.compile(translate(norm), re.DOTALL)
            bucket = self._by_prefix.setdefault(literal_prefix(norm), [])
            bucket.append((pattern, regex, payload))
        self.size = sum(len(b) for b in self._by_prefix.values())

    def __bool__(self) -> bool:
        return self.size > 0

    def matches(self, path: str) -> Iterable[tuple[str, T]]:
        memo: dict[re.Pattern[str], bool] = {}
        for prefix in ancestors(path):
            for pattern, regex, payload in self._by_prefix.get(prefix, ()):
                hit = memo.get(regex)
                if hit is None:
                    hit = memo[regex] = regex.fullmatch(path) is not None
                if hit:
                    yield pattern, payload
