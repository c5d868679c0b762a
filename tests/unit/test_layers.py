"""The layer contract of pyproject.toml ([tool.importlinter], see docs/architecture.md), checked
by import-linter's own contract classes on the package's import graph (grimp), so ``make test``
fails on a wrong-way import or a cycle between packages as ``make lint`` (lint-imports) does;
and no module imports itself through others, inside a package either.
Reads source files only: no process, no network."""

from __future__ import annotations

import graphlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract, ContractCheck

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
TYPES: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


def _config() -> dict[str, Any]:
    """The contracts as lint-imports reads them (importing the API also configures
    import-linter's printer and timer, as lint-imports does)."""
    config: dict[str, Any] = read_configuration(str(PYPROJECT))
    return config


def _contracts() -> Iterator[Contract]:
    config = _config()
    for options in config["contracts_options"]:
        yield TYPES[options["type"]](options["name"], config["session_options"], options)


@pytest.fixture
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*_config()["session_options"]["root_packages"], cache_dir=None)


def _explained(contract: Contract, check: ContractCheck, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    contract.render_broken_contract(check)
    return f"broken: {contract.name}\n{capsys.readouterr().out}"


def _check(
    graph: grimp.ImportGraph, capsys: pytest.CaptureFixture[str]
) -> dict[str, tuple[bool, str]]:
    results = {}
    for contract in _contracts():
        check = contract.check(graph, verbose=False)
        text = "" if check.kept else _explained(contract, check, capsys)
        results[str(contract.contract_options["id"])] = (check.kept, text)
    return results


def test_the_package_keeps_its_layer_contracts(
    graph: grimp.ImportGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _check(graph, capsys)
    assert set(results) == {"layers", "acyclic"}
    broken = [text for kept, text in results.values() if not kept]
    assert not broken, "\n".join(broken)


def test_an_adapter_importing_the_cli_breaks_the_layers(
    graph: grimp.ImportGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = graph
    wrong.add_import(
        importer="pipeline.forge.github",
        imported="pipeline.cli.wiring",
        line_number=1,
        line_contents="from pipeline.cli import wiring",
    )
    kept, text = _check(wrong, capsys)["layers"]
    assert not kept
    assert "pipeline.forge is not allowed to import pipeline.cli" in text
    assert "pipeline.forge.github -> pipeline.cli.wiring" in text


def test_a_feature_reading_the_face_through_another_feature_breaks_the_layers(
    graph: grimp.ImportGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    """Indirect imports count: online -> steps is allowed, steps -> server is not."""
    wrong = graph
    wrong.add_import(importer="pipeline.steps.flow", imported="pipeline.server.app")
    kept, text = _check(wrong, capsys)["layers"]
    assert not kept
    assert "pipeline.steps is not allowed to import pipeline.server" in text


def test_a_cycle_between_packages_of_one_layer_is_named(
    graph: grimp.ImportGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    """config and monorepo share a layer; monorepo reads settings, so config may not import
    monorepo back (it did: config.variables found the platform root through monorepo)."""
    wrong = graph
    wrong.add_import(importer="pipeline.config.variables", imported="pipeline.monorepo.discovery")
    results = _check(wrong, capsys)
    assert results["layers"][0]
    kept, text = results["acyclic"]
    assert not kept
    assert "No cycles are allowed in pipeline" in text
    assert ".config -> .monorepo" in text or ".monorepo -> .config" in text


def test_a_new_package_must_be_given_a_layer(
    graph: grimp.ImportGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = graph
    wrong.add_module("pipeline.newthing")
    kept, text = _check(wrong, capsys)["layers"]
    assert not kept
    assert "pipeline.newthing" in text


def _module_cycle(graph: grimp.ImportGraph) -> list[str]:
    """The modules of one import cycle (the first module again at the end), [] when none.
    Every import counts, also one under ``if TYPE_CHECKING:`` or inside a function."""
    sorter = graphlib.TopologicalSorter(
        {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    cycle = _module_cycle(graph)
    assert not cycle, "a cycle of imports: " + " -> ".join(cycle)


def test_a_cycle_between_modules_of_one_package_is_named(graph: grimp.ImportGraph) -> None:
    """The settings do not load themselves: settings_load reads settings, never the reverse."""
    wrong = graph
    wrong.add_import(importer="pipeline.config.settings", imported="pipeline.config.settings_load")
    cycle = _module_cycle(wrong)
    assert cycle[0] == cycle[-1]
    assert {"pipeline.config.settings", "pipeline.config.settings_load"} <= set(cycle)


PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"
FACE = ("cli", "server")
EDGE_PREFIXES = ("GITHUB_", "SOMLIER_")
# Reads of the process environment below the face that remain, each with its reason.
ALLOWED_ENVIRON = {
    # the cache folder (XDG_CACHE_HOME, HOME) for the compiled schema validators, which are
    # looked up where no environment mapping is passed (config.schema)
    "resources.py",
}


def _is_environ(node: object) -> bool:
    """A mapping named like the environment: ``environ``, ``env``, ``self.environ``..."""
    import ast

    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return isinstance(name, str) and (name == "env" or "environ" in name)


def _environment_reads(path: Path) -> Iterator[str]:
    """``os.environ``, ``os.getenv`` and ``<mapping>.get("GITHUB_…")`` /
    ``<mapping>["SOMLIER_…"]`` in the module at ``path``."""
    import ast

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv", "environb")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            yield f"{path.name}:{node.lineno}: os.{node.attr}"
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice if _is_environ(node.value) else None
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.args
            and node.func.attr in ("get", "pop", "setdefault")
            and _is_environ(node.func.value)
        ):
            key = node.args[0]
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and key.value.startswith(EDGE_PREFIXES)
        ):
            yield f"{path.name}:{getattr(node, 'lineno', 0)}: reads {key.value}"


def test_nothing_below_the_face_reads_the_environment() -> None:
    """``GITHUB_*`` / ``SOMLIER_*`` variables and ``os.environ`` are read at the edge
    (pipeline/cli, pipeline/server); features and adapters receive values or a mapping."""
    found = [
        read
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in FACE
        and str(path.relative_to(PACKAGE)) not in ALLOWED_ENVIRON
        for read in _environment_reads(path)
    ]
    assert found == []
