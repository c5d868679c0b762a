"""The repository stands alone: no test, benchmark or package module builds a path that climbs out
of the checkout (``Path(__file__).parents[N]`` past the root, ``ROOT.parent``, ``/ ".."``), so a
bare clone runs its tests with nothing beside it. (tests/integration/test_bare_copy.py runs
the unit tests from a copy of the repository alone in a tmp dir.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("pipeline", "tests", "benchmarks")


def _python_files() -> list[Path]:
    return sorted(
        p for top in SCANNED for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts
    )


class _Climb(ast.NodeVisitor):
    """Follows paths derived from ``__file__`` as depths below the repository root; records each
    expression whose depth goes below 0 (outside the checkout)."""

    def __init__(self, path: Path) -> None:
        self.file_depth = len(path.relative_to(ROOT).parts)  # Path(__file__) itself
        self.names: dict[str, int] = {}
        self.found: list[str] = []
        self.path = path

    def depth(self, node: ast.expr) -> int | None:
        """Depth below the root of the path NODE denotes, or None when not derived from
        ``__file__``."""
        if isinstance(node, ast.Name):
            return self.file_depth if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "__file__":
            return None  # another module's file: not this one's position
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in {"Path", "PurePath"} and node.args:
                return self.depth(node.args[0])
            if isinstance(func, ast.Attribute):
                if func.attr in {"resolve", "absolute", "expanduser"}:
                    return self.depth(func.value)
                if func.attr == "dirname" and node.args:
                    inner = self.depth(node.args[0])
                    return None if inner is None else inner - 1
                if func.attr == "joinpath":
                    return self._down(self.depth(func.value), node.args)
            return None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.depth(node.value)
            return None if inner is None else inner - 1
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
        ):
            inner = self.depth(node.value.value)
            index = node.slice.value
            return None if inner is None or not isinstance(index, int) else inner - index - 1
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._down(self.depth(node.left), [node.right])
        return None

    def _down(self, start: int | None, parts: list[ast.expr]) -> int | None:
        if start is None:
            return None
        depth = start
        for part in parts:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                return depth  # a computed name: one level down, cannot climb by itself
            for piece in part.value.split("/"):
                depth += -1 if piece == ".." else 0 if piece in {"", "."} else 1
                if depth < 0:
                    return depth
        return depth

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        depth = self.depth(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and depth is not None:
                self.names[target.id] = depth

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        if node.value is not None and isinstance(node.target, ast.Name):
            depth = self.depth(node.value)
            if depth is not None:
                self.names[node.target.id] = depth

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr):
            depth = self.depth(node)
            if depth is not None and depth < 0:
                where = f"{self.path.relative_to(ROOT)}:{node.lineno}"
                self.found.append(f"{where}: {ast.unparse(node)}")
                return
        super().generic_visit(node)


def climbs_out(path: Path) -> list[str]:
    visitor = _Climb(path)
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return visitor.found


def test_no_file_reads_outside_the_repository() -> None:
    files = _python_files()
    assert len(files) > 100  # the scan saw the package and the tests
    assert [hit for path in files for hit in climbs_out(path)] == []


@pytest.mark.parametrize(
    "source",
    [
        'FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"',
        'ROOT = Path(__file__).resolve().parents[2]\nFIXTURES = ROOT.parent / "shared"',
        'DATA = Path(__file__).parent / ".." / ".." / ".." / "shared"',
        "HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))",
        'X = Path(__file__).resolve().parents[1].joinpath("../../shared")',
    ],
)
def test_the_scan_sees_each_way_out(source: str) -> None:
    probe = ROOT / "tests" / "unit" / "probe_module.py"  # depth 3: tests/unit/probe_module.py
    visitor = _Climb(probe)
    visitor.visit(ast.parse(source))
    assert visitor.found, source


@pytest.mark.parametrize(
    "source",
    [
        'DATA = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"',
        'ROOT = Path(__file__).resolve().parents[2]\nDOCS = ROOT / "docs"',
        'X = Path(__file__).parent / ".." / "data"',
        "Y = Path(module.__file__).parent.parent.parent.parent",
    ],
)
def test_paths_inside_the_repository_pass(source: str) -> None:
    visitor = _Climb(ROOT / "tests" / "unit" / "probe_module.py")
    visitor.visit(ast.parse(source))
    assert visitor.found == []


def _imported_modules(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_no_test_imports_a_test_module_or_a_conftest() -> None:
    """Shared code lives in tests/helpers or tests/fakes (as pre-commit's ``testing/``)."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            last = name.rsplit(".", 1)[-1]
            if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []
