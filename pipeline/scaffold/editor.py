"""Completion and hover docs for somlier.yaml in editors, offline.

A monorepo keeps a copy of somlier's JSON Schemas in ``.somlier/schemas/``; every somlier.yaml
names it by a path relative to itself in its ``# yaml-language-server: $schema=…`` modeline
(yaml-language-server: VS Code's YAML extension, Neovim, Helix, …), and ``.vscode/settings.json``
and ``.idea/jsonSchemas.xml`` map the same files for editors that read those instead (JetBrains
IDEs). Nothing is fetched from the network. The copy is what the installed somlier validates
against when it is written; ``somlier validate`` says when it no longer is (:func:`stale_copy`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from pipeline import __version__, resources

if TYPE_CHECKING:  # tree imports Jinja: validate, which calls stale_copy, never needs it
    from pipeline.scaffold import template_folder

FOLDER = PurePosixPath(".somlier/schemas")
NAMES = ("somlier", "platform")
REFRESH = "somlier schema --write"


def schema_path(name: str) -> PurePosixPath:
    """Where the monorepo keeps the copy of schema ``name`` (relative to its root)."""
    return FOLDER / f"{name}.schema.json"


def schema_text(name: str) -> str:
    """Schema ``name`` as the installed somlier ships it, as written into a monorepo."""
    return (resources.data_dir("schemas") / f"{name}.schema.json").read_text(encoding="utf-8")


def relative_schema(folder: Path, root: Path, name: str = "somlier") -> str:
    """The schema copy of the monorepo at ``root`` as a YAML file in ``folder`` names it in its
    modeline: relative to ``folder``, so it holds in every clone, on every machine."""
    return os.path.relpath(root / schema_path(name), folder).replace(os.sep, "/")


def project_schema(project_dir: Path) -> str | None:
    """What a new project's somlier.yaml names in its ``$schema=`` modeline: the schema copy of
    the monorepo around ``project_dir`` (found as ``somlier validate`` finds the platform
    settings), or None outside a monorepo that has one."""
    from pipeline.config.location import platform_root

    start = project_dir.resolve()
    existing = next((p for p in (start, *start.parents) if p.is_dir()), start)
    root = platform_root(existing)
    if root is None or not (root / schema_path("somlier")).is_file():
        return None
    return relative_schema(start, root)


def _vscode() -> str:
    settings = {
        "yaml.schemas": {
            str(schema_path("somlier")): ["somlier.yaml", "**/somlier.yaml"],
            str(schema_path("platform")): [".somlier/platform.yaml"],
        },
    }
    return json.dumps(settings, indent=2) + "\n"


def _jetbrains() -> str:
    entries = []
    for name, pattern in (("somlier", "somlier.yaml"), ("platform", ".somlier/platform.yaml")):
        entries.append(
            f"""        <entry key="{name}.yaml">
          <value>
            <SchemaInfo>
              <option name="name" value="{name}.yaml" />
              <option name="relativePathToSchema" value="{schema_path(name)}" />
              <option name="schemaVersion" value="JSON Schema version 7" />
              <option name="patterns">
                <list>
                  <Item>
                    <option name="pattern" value="true" />
                    <option name="path" value="{pattern}" />
                    <option name="mappingKind" value="Pattern" />
                  </Item>
                </list>
              </option>
            </SchemaInfo>
          </value>
        </entry>"""
        )
    body = "\n".join(entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project version="4">
  <component name="JsonSchemaMappingsProjectConfiguration">
    <state>
      <map>
{body}
      </map>
    </state>
  </component>
</project>
"""


def schema_files() -> list[template_folder.File]:
    """The schema copies, relative to the monorepo's root."""
    from pipeline.scaffold import template_folder

    return [template_folder.File(schema_path(n), schema_text(n).encode()) for n in NAMES]


def files() -> list[template_folder.File]:
    """Everything ``new-monorepo`` lays down for editors, relative to the monorepo's root."""
    from pipeline.scaffold import template_folder

    return [
        *schema_files(),
        template_folder.File(PurePosixPath(".vscode/settings.json"), _vscode().encode()),
        template_folder.File(PurePosixPath(".idea/jsonSchemas.xml"), _jetbrains().encode()),
    ]


def write_schemas(root: Path) -> list[Path]:
    """Write (or refresh) the schema copies of the monorepo at ``root``; return their paths."""
    written = []
    for file in schema_files():
        path = root / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.content)
        written.append(path)
    return written


def stale_copy(root: Path) -> str | None:
    """A note when the monorepo at ``root`` has schema copies that differ from the installed
    somlier's (editors then complete keys that validation refuses, or miss new ones); None when
    they match or there are none. Reads two small files: cheap enough for every validate."""
    differing = []
    for name in NAMES:
        path = root / schema_path(name)
        try:
            copy = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            continue
        if copy != schema_text(name):
            differing.append(str(schema_path(name)))
    if not differing:
        return None
    verb = "differs" if len(differing) == 1 else "differ"
    return (
        f"note: {' and '.join(differing)} {verb} from the installed somlier's ({__version__}): "
        f"editors complete from the monorepo's copy; run `{REFRESH}` to refresh it"
    )
