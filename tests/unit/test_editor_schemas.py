"""Editor completion offline: the schema copies a monorepo keeps, the modeline of a new project's
somlier.yaml, the VS Code and JetBrains mappings, `somlier schema`, and `somlier validate`
noticing a copy the installed somlier no longer matches. (The real yaml-language-server
answering a completion request is tests/integration/test_editor_completion.py.)"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline import resources
from pipeline.cli.main import main
from pipeline.scaffold import editor

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def modeline_target(yaml_file: Path) -> Path:
    first = yaml_file.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), first
    return (yaml_file.parent / first[len(prefix) :]).resolve()


@pytest.fixture
def mono(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    dest = tmp_path / "ml-projects"
    code, _, err = run(["new-monorepo", str(dest), "--no-git"], capsys)
    assert code == 0, err
    return dest


def test_new_monorepo_keeps_the_installed_schemas(mono: Path) -> None:
    for name in ("somlier", "platform"):
        copy = mono / ".somlier" / "schemas" / f"{name}.schema.json"
        shipped = resources.data_dir("schemas") / f"{name}.schema.json"
        assert copy.read_bytes() == shipped.read_bytes()
    assert modeline_target(mono / ".somlier" / "platform.yaml") == (
        mono / ".somlier/schemas/platform.schema.json"
    )


def test_vscode_and_jetbrains_map_the_copies(mono: Path) -> None:
    vscode = json.loads((mono / ".vscode" / "settings.json").read_text())["yaml.schemas"]
    assert "**/somlier.yaml" in vscode[".somlier/schemas/somlier.schema.json"]
    assert vscode[".somlier/schemas/platform.schema.json"] == [".somlier/platform.yaml"]
    for schema in vscode:
        assert (mono / schema).is_file()
    tree = ET.parse(mono / ".idea" / "jsonSchemas.xml")
    mapped = {
        opt.get("value") for opt in tree.iter("option") if opt.get("name") == "relativePathToSchema"
    }
    assert mapped == {
        ".somlier/schemas/somlier.schema.json",
        ".somlier/schemas/platform.schema.json",
    }
    for path in mapped:
        assert (mono / str(path)).is_file()


@pytest.mark.parametrize("where", ["projects", "projects/team-a"])
def test_a_new_projects_modeline_names_the_monorepos_copy(
    mono: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["new-project", "--no-input", "--project-name", "demo", "-o", str(mono / where)]
    code, _, err = run(args, capsys)
    assert code == 0, err
    assert modeline_target(mono / where / "demo" / "somlier.yaml") == (
        mono / ".somlier/schemas/somlier.schema.json"
    )


def test_outside_a_monorepo_a_new_project_names_no_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["new-project", "--no-input", "-o", str(tmp_path)], capsys)
    assert code == 0, err
    text = (tmp_path / "my-example-project" / "somlier.yaml").read_text()
    assert "yaml-language-server" not in text and "somlier.dev" not in text


def test_schema_prints_the_installed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("somlier", "platform"):
        code, out, _ = run(["schema", name], capsys)
        assert code == 0
        assert json.loads(out) == resources.schema(name)


def test_validate_notices_a_stale_copy_and_schema_write_refreshes_it(
    mono: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = mono / ".somlier/schemas/somlier.schema.json"
    old = json.loads(copy.read_text())
    del old["properties"]["offline"]  # as an older somlier shipped it
    copy.write_text(json.dumps(old))
    code, out, err = run(["new-project", "--no-input", "-o", str(mono / "projects")], capsys)
    assert code == 0, err
    project = mono / "projects" / "my-example-project"
    code, out, err = run(["validate", str(project)], capsys)
    assert code == 0, err
    assert ".somlier/schemas/somlier.schema.json differs from the installed somlier's" in err
    assert "somlier schema --write" in err

    code, out, err = run(["schema", "--write", "-C", str(project), "--dry-run"], capsys)
    assert code == 0 and "would write .somlier/schemas/somlier.schema.json" in out
    assert copy.read_text() == json.dumps(old)
    code, out, err = run(["schema", "--write", "-C", str(project)], capsys)
    assert code == 0 and "wrote .somlier/schemas/somlier.schema.json" in out
    assert copy.read_bytes() == (resources.data_dir("schemas") / "somlier.schema.json").read_bytes()
    code, out, err = run(["validate", str(project)], capsys)
    assert code == 0 and "differs" not in err


def test_schema_write_outside_a_monorepo_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()  # a repository without platform settings is no monorepo
    code, _, err = run(["schema", "--write", "-C", str(tmp_path)], capsys)
    assert code == 2 and "not inside a monorepo" in err and "Traceback" not in err


def test_the_example_monorepo_keeps_the_current_schemas() -> None:
    example = ROOT / "examples" / "ml-projects"
    assert editor.stale_copy(example) is None
    for name in ("somlier", "platform"):
        assert (example / editor.schema_path(name)).is_file()
    for project in sorted(example.glob("projects/*/somlier.yaml")):
        assert modeline_target(project) == (example / editor.schema_path("somlier")).resolve()
