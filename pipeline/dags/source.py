"""Where in a DAG file: line numbers from the source (``ast``) and from Python tracebacks.

Pure functions over text; nothing here imports Airflow or runs a DAG file.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_SYNTAX = ("SyntaxError", "IndentationError", "TabError")


@dataclass(frozen=True)
class Location:
    line: int = 0  # 1-based; 0 when unknown
    col: int = 0  # 1-based; 0 when unknown


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))


def exception_line(text: str) -> str:
    """The ``Type: message`` line that ends a formatted traceback (its first line, when the
    message spans several); the first line of ``text`` when it is no traceback."""
    lines = text.rstrip().splitlines()
    if not lines:
        return "unknown error"
    start = max((i for i, line in enumerate(lines) if line.startswith("Traceback (")), default=-1)
    if start < 0:
        return lines[0].strip()
    block = lines[start + 1 :]
    indented = [i for i, line in enumerate(block) if line[:1].isspace()]
    rest = [line for line in block[(indented[-1] + 1 if indented else 0) :] if line.strip()]
    return rest[0].strip() if rest else lines[-1].strip()


def traceback_location(text: str, path: str) -> Location:
    """The line of the innermost frame of ``text`` that is in ``path``."""
    line = 0
    for match in map(_FRAME.match, text.splitlines()):
        if match and _same_file(match["file"], path):
            line = int(match["line"])
    return Location(line)


def innermost_frame(text: str) -> tuple[str, int] | None:
    """The file and line of the last frame of a traceback (for a SyntaxError: where it is)."""
    found = None
    for match in map(_FRAME.match, text.splitlines()):
        if match:
            found = (match["file"], int(match["line"]))
    return found


def is_syntax_error(text: str) -> bool:
    return exception_line(text).startswith(_SYNTAX)


def syntax_error_location(source: str, path: str) -> Location | None:
    """Where ``source`` fails to compile, or None when it compiles."""
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return Location(exc.lineno or 0, exc.offset or 0)
    except ValueError:  # null bytes
        return Location()
    return None


def error_location(text: str, path: str, source: str | None) -> Location:
    """Where the import error ``text`` (a traceback) points in the file ``path``."""
    if source is not None and is_syntax_error(text):
        found = syntax_error_location(source, path)
        if found is not None:
            return found
    return traceback_location(text, path)


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _keyword(call: ast.Call, name: str) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            value = keyword.value.value
            return value if isinstance(value, str) else None
    return None


@dataclass(frozen=True)
class SourceIndex:
    """The lines of ``DAG(dag_id=…)`` and ``Operator(task_id=…)`` calls of one file, found by
    reading it: literal ids only (a generated id has no line, and that is fine)."""

    dags: dict[str, int]
    tasks: dict[str, int]

    @classmethod
    def of(cls, source: str) -> SourceIndex:
        dags: dict[str, int] = {}
        tasks: dict[str, int] = {}
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return cls(dags, tasks)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            dag_id = _keyword(node, "dag_id")
            if dag_id is None and _name(node.func) in ("DAG", "dag") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    dag_id = first.value
            if dag_id is not None:
                dags.setdefault(dag_id, node.lineno)
            task_id = _keyword(node, "task_id")
            if task_id is not None:
                tasks.setdefault(task_id, node.lineno)
        return cls(dags, tasks)


class Sources:
    """DAG files read once each (missing or unreadable files read as None)."""

    def __init__(self) -> None:
        self._text: dict[str, str | None] = {}
        self._index: dict[str, SourceIndex] = {}

    def text(self, path: str) -> str | None:
        if path not in self._text:
            try:
                self._text[path] = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                self._text[path] = None
        return self._text[path]

    def index(self, path: str) -> SourceIndex:
        if path not in self._index:
            self._index[path] = SourceIndex.of(self.text(path) or "")
        return self._index[path]

    def dag_line(self, path: str, dag_id: str) -> int:
        return self.index(path).dags.get(dag_id, 0)

    def task_line(self, path: str, task_id: str) -> int:
        return self.index(path).tasks.get(task_id, 0)
