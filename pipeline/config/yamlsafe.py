"""Safe YAML loading with the limits a config file needs.

Only plain data: no ``!!python/...``, ``!!binary``, ``!!set`` or custom tags, no duplicate keys,
no non-string keys. Pathological documents (huge files, alias bombs, recursive aliases) are
refused with a located message, never with a RecursionError or a hang. Nesting is capped at 1000
levels by the parser here; every caller then walks the data with ``interpolate_tree``, which
refuses anything deeper than :data:`MAX_DEPTH` (one walk for both jobs: the hot path of
``validate``).
Timestamps stay strings, so ``start_date: 2024-01-01`` is the text the user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.errors import ConfigError, Diagnostic

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LoadError(Exception):
    def __init__(self, message: str, node: Node | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.hint = hint


def _check_keys(node: MappingNode) -> None:
    """Keys are text and unique, in ``node`` and in every mapping merged into it with ``<<``
    (a merged key may override one of the merged mappings', which is what merging is for)."""
    seen: set[str] = set()
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in merged:
                if isinstance(source, MappingNode):
                    _check_keys(source)
            continue
        if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
            raise _LoadError(
                "a key must be text",
                key_node,
                "quote it, e.g. 'on': or '1': ; YAML reads yes/no/on/off as booleans",
            )
        if key_node.value in seen:
            raise _LoadError(f"duplicate key {key_node.value!r}", key_node, "keep one of them")
        seen.add(key_node.value)


class _Loader(_Base):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser when present) with stricter mappings."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        _check_keys(node)
        mapping: dict[Any, Any] = SafeConstructor.construct_mapping(self, node, deep)
        return mapping

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value: float = SafeConstructor.construct_yaml_float(self, node)
        if value != value or value in (float("inf"), float("-inf")):
            raise _LoadError(f"{node.value!r} is not a finite number", node, "write a number")
        return value

    def construct_undefined(self, node: Node) -> Any:
        raise _LoadError(
            f"the tag {node.tag!r} is not allowed",
            node,
            "somlier.yaml holds plain data: strings, numbers, booleans, lists and mappings",
        )


for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader.construct_undefined)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor(None, _Loader.construct_undefined)


@dataclass(frozen=True)
class Document:
    """The loaded data, with the node graph kept for locating errors."""

    data: Any
    node: Node


def _diag(path: str, message: str, line: int = 0, col: int = 0, hint: str = "") -> ConfigError:
    return ConfigError([Diagnostic(path, line, col, message, hint)])


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_graph(node: Node) -> None:
    """Refuse recursive aliases, alias bombs and deep nesting, without recursion.

    Each distinct node is visited once; its expanded size and depth (what the data would be
    once aliases are copied out) come from its children's, memoised.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, finished = stack.pop()
        key = id(current)
        if finished:
            open_nodes.discard(key)
            kids = [sizes[id(c)] for c in _children(current)]
            size = 1 + sum(s for s, _ in kids)
            # Containers count as levels, scalars do not (as in interpolate_tree).
            depth = (
                0 if isinstance(current, ScalarNode) else 1 + max((d for _, d in kids), default=0)
            )
            if size > MAX_EXPANDED_NODES:
                raise _LoadError(
                    f"the document expands to more than {MAX_EXPANDED_NODES:,} values "
                    "through aliases",
                    current,
                    "is this an alias bomb? write the values out",
                )
            if depth > MAX_DEPTH:
                # Point where the limit is crossed: MAX_DEPTH levels down the deepest path.
                node_at: Node = current
                for _ in range(MAX_DEPTH):
                    inner = [c for c in _children(node_at) if not isinstance(c, ScalarNode)]
                    if not inner:
                        break
                    node_at = max(inner, key=lambda c: sizes[id(c)][1])
                raise _LoadError(f"nesting deeper than {MAX_DEPTH} levels", node_at)
            sizes[key] = (size, depth)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise _LoadError("a recursive alias (an anchor used inside itself)", current)
        open_nodes.add(key)
        stack.append((current, True))
        stack.extend((c, False) for c in _children(current) if id(c) not in sizes)


def _decode(raw: bytes, path: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _diag(path, "the file is UTF-16", hint="save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _diag(
            path,
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            line,
            col,
            "save it as UTF-8",
        ) from None


def _char_at(text: str, line: int, col: int) -> str:
    lines = text.splitlines()
    return lines[line][col] if line < len(lines) and col < len(lines[line]) else ""


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, path: str) -> ConfigError:
    context = exc.context or ""
    # An unclosed quote is found at the end of the file; where it opened is what helps.
    opened = context.startswith("while scanning a quoted scalar") and exc.context_mark
    mark = exc.context_mark if opened else (exc.problem_mark or exc.context_mark)
    problem = exc.problem or exc.context or "invalid YAML"
    hint = ""
    if opened:
        problem = "a quoted string that is never closed"
        hint = "add the closing quote"
    elif mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        problem = "a tab character where YAML expects indentation or a value"
        hint = "YAML indents with spaces, not tabs"
    elif "maximum nesting depth" in problem:
        problem = "nesting too deep"
        hint = f"somlier.yaml nests at most {MAX_DEPTH} levels"
    elif "expected a single document" in context:
        problem = "the file holds more than one YAML document"
        hint = "keep one document: remove the extra '---'"
    elif context and exc.problem and not context.startswith("while"):
        problem = f"{context}: {exc.problem}"
    elif context.startswith("while") and exc.problem:
        problem = f"{exc.problem} ({context})"
    line = mark.line + 1 if mark else 0
    col = mark.column + 1 if mark else 0
    return _diag(path, problem, line, col, hint)


_FORBIDDEN = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ufffe\\uffff]")


def _reader_error(text: str, path: str) -> ConfigError:
    found = _FORBIDDEN.search(text)
    if found is None:
        return _diag(path, "the file holds a character YAML does not allow")
    line = text.count("\n", 0, found.start()) + 1
    col = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return _diag(
        path,
        f"a control character (U+{ord(found.group()):04X}) YAML does not allow",
        line,
        col,
        "remove it",
    )


def load_text(raw: bytes, path: str) -> Document:
    """Parse one somlier.yaml-like document; raise :class:`ConfigError` on any problem."""
    if len(raw) > MAX_BYTES:
        raise _diag(
            path, f"the file is larger than {MAX_BYTES // 1024} KiB", hint="is it a config?"
        )
    text = _decode(raw, path)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None or (
            isinstance(node, ScalarNode)
            and node.tag.endswith(":null")
            and node.value in ("", "~", "null")
        ):
            raise _diag(
                path,
                "the file is empty",
                hint="a somlier.yaml holds one mapping with project, model and entrypoints",
            )
        if not isinstance(node, MappingNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a single value"
            raise _diag(
                path,
                f"the top level is {kind}, not a mapping",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                "a somlier.yaml holds one mapping: project:, model:, entrypoints:",
            )
        if "&" in text:  # no anchors, no aliases: nothing to expand or recurse through
            check_graph(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text, path) from None
    except _LoadError as exc:
        mark = exc.node.start_mark if exc.node is not None else None
        raise _diag(
            path,
            exc.message,
            mark.line + 1 if mark else 0,
            mark.column + 1 if mark else 0,
            exc.hint,
        ) from None
    except RecursionError:  # only the pure-Python parser recurses; libyaml stops at 1000 levels
        raise _diag(
            path, "nesting too deep", hint=f"somlier.yaml nests at most {MAX_DEPTH} levels"
        ) from None
    except yaml.YAMLError:  # reader errors (control characters) carry no mark with libyaml
        raise _reader_error(text, path) from None
    finally:
        loader.dispose()
    return Document(data, node)


def parse_value(text: str) -> Any:
    """One value written as YAML (``4``, ``true``, ``[a, b]``), read like somlier.yaml is:
    dates stay text. Text that is no valid YAML is returned as written."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except (yaml.YAMLError, _LoadError, RecursionError):
        return text
    finally:
        loader.dispose()


def read_file(path: Path, shown: str) -> bytes:
    """Read at most ``MAX_BYTES + 1`` bytes, so a huge file is refused without loading it."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _diag(shown, "no such file") from None
    except IsADirectoryError:
        raise _diag(shown, "is a folder, not a file") from None
    except PermissionError:
        raise _diag(shown, "permission denied") from None
