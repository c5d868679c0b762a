"""Check a DAG file's code with :mod:`ast`: exactly the shape the templates write (three
imports and one ``with DAG(...) as dag:`` block holding one ``MLOpsOfflineOperator(...)`` call
whose arguments are literals) and, given the spec, exactly its values: every argument read back
with :func:`ast.literal_eval` equals, type for type, what the spec says.
"""

from __future__ import annotations

import ast
import codecs
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError, Diagnostic
from pipeline.offline import contract
from pipeline.offline.contract import OPERATOR, OPERATOR_MODULE
from pipeline.offline.spec import DAG_MODULES, DagSpec

# (module, name): ``import module`` or ``from module import name``. DAG's module (None here)
# depends on the Airflow version (spec.DAG_MODULES); without a spec, either is accepted.
_IMPORTS: tuple[tuple[str | None, str | None], ...] = (
    ("pendulum", None),
    (None, "DAG"),
    (OPERATOR_MODULE, OPERATOR),
)
# Node types a DAG file may hold: no f-strings, operators, subscripts, lambdas or comprehensions.
_ALLOWED = (
    ast.Module,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.With,
    ast.withitem,
    ast.Expr,
    ast.Call,
    ast.keyword,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Attribute,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Dict,
)
# Where each name may appear, and how often: the whole vocabulary of a DAG file.
_NAMES = {
    ("pendulum", ast.Load): 1,
    ("DAG", ast.Load): 1,
    ("dag", ast.Store): 1,
    (OPERATOR, ast.Load): 1,
}
_CALLS = {"DAG", OPERATOR, "pendulum.datetime"}


class DagCheckError(ConfigError):
    """A DAG file holds something the templates never write."""


@dataclass
class _Checker:
    path: str
    findings: list[Diagnostic]

    def add(self, node: ast.AST | None, message: str) -> None:
        line = getattr(node, "lineno", 0) if node is not None else 0
        col = getattr(node, "col_offset", -1) + 1 if node is not None else 0
        self.findings.append(Diagnostic(self.path, line, col, message))


def check_dag(source: str, spec: DagSpec | None = None, *, path: str = "<dag>") -> None:
    """Raise :class:`DagCheckError` unless ``source`` has exactly the shape of a rendered DAG
    (and, given ``spec``, exactly its values)."""
    out = _Checker(path, [])
    # Parse the bytes Airflow will read, so that an encoding declaration in the first two
    # lines (``# coding: utf-7`` turns ``+AAo-`` into a line break) counts as it will there.
    data = source.encode("utf-8")
    declared = _other_encoding(data)
    if declared is not None:
        out.add(None, f"the file declares the encoding {declared}; DAG files are UTF-8")
        raise DagCheckError(out.findings)
    try:
        tree = ast.parse(data, filename=path)
    except SyntaxError as exc:
        out.findings.append(
            Diagnostic(path, exc.lineno or 0, exc.offset or 0, f"not Python: {exc.msg}")
        )
        raise DagCheckError(out.findings) from None
    _vocabulary(tree, out)
    calls = _structure(tree, out, spec)
    if calls is not None and not out.findings and spec is not None:
        _values(tree, *calls, spec, out)
    if out.findings:
        raise DagCheckError(out.findings)


def _other_encoding(data: bytes) -> str | None:
    """The encoding a Python reader would decode ``data`` with, when it is not UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an encoding Python does not know
        return str(exc)
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return repr(encoding)
    return None if name == "utf-8" else repr(encoding)


def _vocabulary(tree: ast.Module, out: _Checker) -> None:
    counts: dict[tuple[str, type], int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            out.add(node, f"unexpected {type(node).__name__} (a DAG file holds only literals)")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) not in _CALLS:
            out.add(node, f"unexpected call to {ast.unparse(node.func):.60}()")
        elif isinstance(node, ast.Name):
            key = (node.id, type(node.ctx))
            counts[key] = counts.get(key, 0) + 1
            if counts[key] > _NAMES.get(key, 0):
                out.add(node, f"unexpected use of the name {node.id!r}")
        elif isinstance(node, ast.Attribute) and not (
            node.attr == "datetime"
            and isinstance(node.value, ast.Name)
            and node.value.id == "pendulum"
        ):
            out.add(node, f"unexpected attribute {node.attr!r}")


def _structure(
    tree: ast.Module, out: _Checker, spec: DagSpec | None
) -> tuple[ast.Call, ast.Call] | None:
    """Check the statements; return the DAG call and the operator call when the shape is
    right."""
    body = tree.body
    if len(body) != 4:
        out.add(body[4] if len(body) > 4 else None, f"expected 4 statements, found {len(body)}")
        return None
    for stmt, (module, name) in zip(body[:3], _IMPORTS, strict=True):
        if module is not None:
            modules = [module]
        elif spec is not None:
            modules = [spec.dag_module]
        else:
            modules = sorted(set(DAG_MODULES.values()))
        if name is None:
            ok = isinstance(stmt, ast.Import) and _aliases(stmt) in [[(m, None)] for m in modules]
        else:
            ok = (
                isinstance(stmt, ast.ImportFrom)
                and stmt.module in modules
                and stmt.level == 0
                and _aliases(stmt) == [(name, None)]
            )
        if not ok:
            expected = " or ".join(
                repr(f"import {m}" if name is None else f"from {m} import {name}") for m in modules
            )
            out.add(stmt, f"expected {expected}")
    block = body[3]
    if (
        isinstance(block, ast.With)
        and len(block.items) == 1
        and isinstance(block.items[0].optional_vars, ast.Name)
        and len(block.body) == 1
        and isinstance(block.body[0], ast.Expr)
    ):
        dag_call, operator_call = block.items[0].context_expr, block.body[0].value
        if _is_call_to(dag_call, "DAG") and _is_call_to(operator_call, OPERATOR):
            assert isinstance(dag_call, ast.Call) and isinstance(operator_call, ast.Call)
            return dag_call, operator_call
    out.add(block, f"expected one 'with DAG(...) as dag:' block holding one {OPERATOR}(...)")
    return None


def _aliases(stmt: ast.Import | ast.ImportFrom) -> list[tuple[str, str | None]]:
    return [(a.name, a.asname) for a in stmt.names]


def _is_call_to(node: ast.expr, name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and not node.args
        and all(k.arg is not None for k in node.keywords)
    )


def _values(
    tree: ast.Module, dag_call: ast.Call, operator_call: ast.Call, spec: DagSpec, out: _Checker
) -> None:
    _keywords(
        dag_call, {**contract.dag_arguments(spec), "start_date": None}, out, skip="start_date"
    )
    _keywords(operator_call, contract.operator_arguments(spec), out)
    start = next((k.value for k in dag_call.keywords if k.arg == "start_date"), None)
    if start is not None and not _is_start_date(start, spec):
        d = spec.start_date
        want = f"pendulum.datetime({d.year}, {d.month}, {d.day}, tz={spec.timezone!r})"
        out.add(start, f"start_date must be {want}")
    wanted = set(
        _strings([contract.dag_arguments(spec), contract.operator_arguments(spec), spec.timezone])
    )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value not in wanted
        ):
            out.add(node, f"string {node.value!r:.60} is not a value of the spec")


def _is_start_date(node: ast.expr, spec: DagSpec) -> bool:
    d = spec.start_date
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)  # pendulum.datetime: the only one allowed
        and _same([_literal(a) for a in node.args], [d.year, d.month, d.day])
        and [k.arg for k in node.keywords] == ["tz"]
        and _same(_literal(node.keywords[0].value), spec.timezone)
    )


_MISSING = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _MISSING


def _keywords(call: ast.Call, expected: dict[str, Any], out: _Checker, skip: str = "") -> None:
    given = {k.arg: k for k in call.keywords if k.arg is not None}
    name = call.func.id if isinstance(call.func, ast.Name) else "?"
    for missing in sorted(set(expected) - set(given)):
        out.add(call, f"{name}(...) lacks {missing}=")
    for arg, keyword in given.items():
        if arg not in expected:
            out.add(keyword.value, f"{name}(...) has an unexpected argument {arg}=")
        elif arg != skip:
            value = _literal(keyword.value)
            if not _same(value, expected[arg]):
                out.add(
                    keyword.value,
                    f"{name}(..., {arg}=) is {_show(value)}, expected {expected[arg]!r:.80}",
                )


def _show(value: Any) -> str:
    return "not a literal" if value is _MISSING else f"{value!r:.80}"


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
