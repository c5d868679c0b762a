"""The YAML examples of docs/*.md are real: every one is loaded the way somlier loads it.

Conventions for a fenced ```yaml (or ```yml) block, by its first line:

- ``# fragment``: a partial snippet; it only has to parse as YAML.
- ``# invalid``: a somlier.yaml that must FAIL validation; an optional ``# expect: TEXT`` on the
  second line gives a substring of one of the formatted errors.
- ``# platform``: a complete ``.somlier/platform.yaml``; it must load through ``load_settings``.
- anything else: a complete somlier.yaml that must validate without a diagnostic (its folder
  holds an empty ``requirements.txt``).

The examples see :data:`ENVIRON`, never the real environment. A second group of tests makes sure
every key of both JSON Schemas is documented, so a key added to a schema without documentation
fails the suite.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline import resources
from pipeline.config.project import check_file
from pipeline.config.settings_load import load_settings
from pipeline.config.variables import Variables
from pipeline.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs"

# The environment the examples are validated in; examples that use ${VAR} without a default
# rely on these names (and counter-examples on a name that is absent, e.g. BUILD_NUMBER).
ENVIRON = {"IMAGE_TAG": "sha-1234567", "MODEL_STAGE": "prod", "EPOCHS": "5"}
# The variables the platform allows them to read: interpolation.allow of docs/config.md's example.
VARIABLES = Variables(
    frozenset({"IMAGE_TAG", "MODEL_STAGE", "MODEL_VERSION", "EPOCHS", "BUILD_NUMBER", "PORT"})
)

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\s`]*)")
_EXPECT = re.compile(r"#\s*expect:\s*(?P<text>.+?)\s*$")


@dataclass(frozen=True)
class Example:
    doc: str
    line: int  # of the opening fence, 1-based
    text: str

    @property
    def kind(self) -> str:
        first = self.text.lstrip("\n").split("\n", 1)[0].strip()
        for kind in ("fragment", "invalid", "platform"):
            if re.fullmatch(rf"#\s*{kind}\b.*", first):
                return kind
        return "complete"

    @property
    def expect(self) -> str:
        lines = self.text.lstrip("\n").split("\n")
        found = _EXPECT.match(lines[1].strip()) if len(lines) > 1 else None
        return found.group("text") if found else ""

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def fenced_blocks(text: str) -> Iterator[tuple[int, str, str]]:
    """(line, info string, content) of every fenced code block; indented fences are dedented."""
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening.group("fence"), opening.group("indent")
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end])
            end += 1
        yield index + 1, opening.group("info").lower(), textwrap.dedent("\n".join(body)) + "\n"
        index = end + 1


def yaml_examples() -> list[Example]:
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        for line, info, body in fenced_blocks(doc.read_text(encoding="utf-8")):
            if info in {"yaml", "yml"}:
                found.append(Example(doc.name, line, body))
    return found


EXAMPLES = yaml_examples()


def _by_kind(kind: str) -> list[Any]:
    return [pytest.param(e, id=e.id) for e in EXAMPLES if e.kind == kind]


def _write_project(root: Path, text: str) -> Path:
    folder = root / "proj"
    folder.mkdir()
    (folder / "requirements.txt").write_text("", encoding="utf-8")
    path = folder / "somlier.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_docs_hold_examples_of_every_kind() -> None:
    kinds = {e.kind for e in EXAMPLES}
    assert {"complete", "invalid", "platform", "fragment"} <= kinds, kinds


@pytest.mark.parametrize("example", _by_kind("complete"))
def test_complete_example_is_valid(example: Example, tmp_path: Path) -> None:
    report = check_file(_write_project(tmp_path, example.text), "doc", ENVIRON, VARIABLES)
    assert report.ok, "\n".join(d.format() for d in report.diagnostics)


@pytest.mark.parametrize("example", _by_kind("invalid"))
def test_invalid_example_fails_as_documented(example: Example, tmp_path: Path) -> None:
    report = check_file(_write_project(tmp_path, example.text), "doc", ENVIRON, VARIABLES)
    assert not report.ok, f"{example.id} is marked '# invalid' but validates"
    messages = [d.format() for d in report.diagnostics]
    assert any(example.expect in m for m in messages), (
        f"expected {example.expect!r} in one of:\n" + "\n".join(messages)
    )


@pytest.mark.parametrize("example", _by_kind("platform"))
def test_platform_example_loads(example: Example, tmp_path: Path) -> None:
    folder = tmp_path / ".somlier"
    folder.mkdir()
    (folder / "platform.yaml").write_text(example.text, encoding="utf-8")
    try:
        settings = load_settings(tmp_path, {})
    except ConfigError as exc:
        pytest.fail(exc.render())
    assert settings.source == folder / "platform.yaml"


@pytest.mark.parametrize("example", _by_kind("fragment"))
def test_fragment_parses(example: Example) -> None:
    yaml.safe_load(example.text)


def test_expect_is_only_used_on_invalid_examples() -> None:
    misplaced = [e.id for e in EXAMPLES if e.expect and e.kind != "invalid"]
    assert not misplaced


# --- every schema key is documented ---------------------------------------------------------

SCHEMAS = ("somlier", "platform")


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of a shipped schema (the cached one may have been rewritten by a compiler)."""
    path = resources.data_dir("schemas") / f"{name}.schema.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        pointer = node["$ref"].partition("#")[2]
        assert pointer.startswith("/$defs/"), node["$ref"]
        node = root["$defs"][pointer.rsplit("/", 1)[1]]
    return node


def schema_paths(root: dict[str, Any]) -> set[tuple[str, ...]]:
    """Every key path of the schema; list items and free-named keys add no path part."""
    paths: set[tuple[str, ...]] = set()
    stack: list[tuple[Any, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict) or len(path) > 20:
            continue
        node = _resolve(node, root)
        for key, sub in node.get("properties", {}).items():
            paths.add((*path, key))
            stack.append((sub, (*path, key)))
        for keyword in ("items", "additionalProperties"):
            stack.append((node.get(keyword), path))
        for keyword in ("anyOf", "oneOf", "allOf"):
            stack.extend((sub, path) for sub in node.get(keyword, ()))
    return paths


def documented_paths() -> set[tuple[str, ...]]:
    """Key paths written in backticks in docs/*.md: `a.b`, `offline[].gpu`, `x.<name>.y`."""
    found: set[tuple[str, ...]] = set()
    for doc in DOCS.glob("*.md"):
        for span in re.findall(r"`([^`\n]+)`", doc.read_text(encoding="utf-8")):
            span = span.strip().rstrip(":")
            if not re.fullmatch(r"[A-Za-z_][\w.<>\[\]-]*", span):
                continue
            parts = re.sub(r"\[\d*\]", "", span).split(".")
            found.add(tuple(p for p in parts if p and not p.startswith("<")))
    return found


def _undocumented(schema: str) -> list[str]:
    documented = documented_paths()
    missing = []
    for path in sorted(schema_paths(load_schema(schema))):
        # `gpu.type` documents offline[].gpu.type and online.gpu.type (shared definitions)
        suffixes = {path[i:] for i in range(len(path)) if len(path) - i >= min(2, len(path))}
        if not suffixes & documented:
            missing.append(".".join(path))
    return missing


@pytest.mark.parametrize("schema", SCHEMAS)
def test_every_schema_key_path_is_documented(schema: str) -> None:
    assert not _undocumented(schema), "document these keys in docs/: " + ", ".join(
        _undocumented(schema)
    )


@pytest.mark.parametrize("schema", SCHEMAS)
def test_every_schema_property_name_appears_in_the_docs(schema: str) -> None:
    text = "\n".join(d.read_text(encoding="utf-8") for d in DOCS.glob("*.md"))
    names = {p[-1] for p in schema_paths(load_schema(schema))}
    missing = sorted(
        n for n in names if not re.search(rf"`[^`\n]*\b{re.escape(n)}\b[^`\n]*`", text)
    )
    assert not missing, f"property names never shown in `code` in docs/: {missing}"


def test_the_key_walk_sees_nested_keys() -> None:
    paths = schema_paths(load_schema("somlier"))
    assert ("offline", "gpu", "count") in paths
    assert ("model", "assets", "files", "remote_uri") in paths
    assert ("project", "docker", "env", "value") in paths
    assert ("gpu_types", "tolerations", "effect") in schema_paths(load_schema("platform"))
