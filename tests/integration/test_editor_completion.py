"""The real yaml-language-server (npm; what VS Code's YAML extension, Neovim and Helix run)
completes and documents somlier.yaml in a monorepo made by `somlier new-monorepo`, offline: the
schema comes from the monorepo's copy named by the file's modeline, with the schema store off
and no network."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.lsp import LanguageServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SOMLIER = Path(sys.executable).parent / "somlier"
SETTINGS = {"schemaStore": {"enable": False}, "completion": True, "hover": True, "validate": True}


@pytest.fixture(scope="module")
def server_script() -> Path:
    """Installed once into the test cache by .ci/yaml-ls.sh (npm), as .ci/run does."""
    done = subprocess.run(
        ["bash", str(ROOT / ".ci" / "yaml-ls.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot install yaml-language-server: {done.stderr}")
    return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("editor")
    for argv, cwd in (
        ([SOMLIER, "new-monorepo", "ml-projects", "--no-git"], parent),
        ([SOMLIER, "new-project", "--no-input", "--project-name", "nuj-project", "-o", "projects"],
         parent / "ml-projects"),
    ):  # fmt: skip
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    return parent / "ml-projects"


@pytest.fixture
def server(server_script: Path, mono: Path) -> Iterator[LanguageServer]:
    def answer(message: dict[str, Any]) -> Any:
        if message["method"] == "workspace/configuration":
            return [SETTINGS for _ in message["params"]["items"]]
        return None

    ls = LanguageServer(["node", str(server_script), "--stdio"], answer)
    try:
        ls.request(
            "initialize",
            {
                "processId": None,
                "rootUri": mono.as_uri(),
                "capabilities": {"workspace": {"configuration": True}},
            },
        )
        ls.notify("initialized", {})
        ls.notify("workspace/didChangeConfiguration", {"settings": {"yaml": SETTINGS}})
        yield ls
    finally:
        ls.close()


def labels(result: Any) -> set[str]:
    items = result["items"] if isinstance(result, dict) else result or []
    return {item["label"] for item in items}


def ask(ls: LanguageServer, path: Path, text: str, line: int) -> set[str]:
    path.write_text(text)
    uri = ls.open(path)
    position = {"line": line, "character": len(text.splitlines()[line])}
    return labels(
        ls.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": position})
    )


def test_keys_of_somlier_yaml_are_completed_from_the_monorepos_schema(
    server: LanguageServer, mono: Path
) -> None:
    somlier_yaml = mono / "projects" / "nuj-project" / "somlier.yaml"
    modeline = somlier_yaml.read_text().splitlines()[0]
    assert modeline == "# yaml-language-server: $schema=../../.somlier/schemas/somlier.schema.json"
    probe = somlier_yaml.with_name("probe.yaml")  # beside it: the modeline resolves the same
    got = ask(server, probe, modeline + "\nproject:\n  na\n", 2)
    assert {"python", "docker", "depends_on"} <= got
    got = ask(server, probe, modeline + "\nproject: {name: x}\nmo\n", 2)
    assert {"model", "entrypoints", "offline", "online"} <= got


def test_hover_shows_the_schemas_description(server: LanguageServer, mono: Path) -> None:
    somlier_yaml = mono / "projects" / "nuj-project" / "somlier.yaml"
    lines = somlier_yaml.read_text().splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith("entrypoints:"))
    uri = server.open(somlier_yaml)
    hover = server.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": 2}},
    )
    assert hover is not None
    shown = hover["contents"]["value"] if isinstance(hover["contents"], dict) else str(hover)
    from pipeline import resources

    described = resources.schema("somlier")["properties"]["entrypoints"]["description"]
    assert described in shown
    assert (mono / ".somlier" / "schemas" / "somlier.schema.json").as_uri() in shown


def test_platform_settings_are_completed_too(server: LanguageServer, mono: Path) -> None:
    platform = mono / ".somlier" / "platform.yaml"
    modeline = platform.read_text().splitlines()[0]
    assert modeline == "# yaml-language-server: $schema=schemas/platform.schema.json"
    got = ask(server, platform.with_name("probe.yaml"), modeline + "\nmonorepo:\n  def\n", 2)
    assert "default_branch" in got
