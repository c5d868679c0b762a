"""A template folder rendered into files, checked, then written all at once.

In a template folder, files named ``*.j2`` are Jinja templates (the suffix is dropped); every
other file is copied byte for byte. Rendering goes through the one environment of
:mod:`pipeline.render`, whose ``finalize`` lets no value out unless a quoting filter produced it;
for templates that are not Python it adds two filters:

``|yaml``    any JSON value (text, number, list, mapping) as YAML: JSON is YAML's flow style
``|config``  text in a file somlier reads (somlier.yaml, platform.yaml): JSON-quoted, with
             ``${`` written ``$${`` so somlier's variable syntax leaves it as it is
``|md``      one line of Markdown text
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from pipeline.errors import UserError
from pipeline.render import Quoted, environment, yaml_scalar

SUFFIX = ".j2"
# Never part of a template, whatever lies in the folder of a source checkout.
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".venv"}


@dataclass(frozen=True)
class File:
    path: PurePosixPath  # relative to the destination
    content: bytes
    executable: bool = False


def _yaml(value: Any) -> Quoted:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined: raises, naming the variable
    return yaml_scalar(value)


def _config(value: Any) -> Quoted:
    if not isinstance(value, str):
        raise TypeError(f"|config quotes text, not a {type(value).__name__}")
    return Quoted(json.dumps(value, ensure_ascii=False).replace("${", "$${"))


def _comment(value: Any) -> Quoted:
    """Text for the rest of a comment line (YAML, Python, shell): one printable line."""
    text = str(value)
    if not text.isprintable():
        raise UserError(f"{text!r} cannot be written into a comment line")
    return Quoted(text)


def _md(value: Any) -> Quoted:
    if not isinstance(value, str) or any(c in value for c in "\r\n"):
        raise TypeError("|md writes one line of text")
    return Quoted(value)


def _environment(folder: Path) -> jinja2.Environment:
    env = environment().overlay(loader=jinja2.FileSystemLoader(folder, encoding="utf-8"))
    # overlay() shares the parent's filter dict: give this one its own.
    env.filters = {**env.filters, "yaml": _yaml, "config": _config, "md": _md, "comment": _comment}
    return env


def _sources(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        found += [Path(dirpath, f) for f in sorted(filenames) if not f.endswith((".pyc",))]
    return found


def render_file(folder: Path, name: str, context: Mapping[str, Any]) -> str:
    """One template of ``folder`` rendered (``name`` relative to it)."""
    return _environment(folder).get_template(name).render(**context)


def render_folder(folder: Path, context: Mapping[str, Any]) -> list[File]:
    """Every file of the template ``folder``, rendered with ``context``."""
    env = _environment(folder)
    files = []
    for source in _sources(folder):
        relative = PurePosixPath(source.relative_to(folder).as_posix())
        executable = os.access(source, os.X_OK)
        if relative.name.endswith(SUFFIX):
            text = env.get_template(relative.as_posix()).render(**context)
            target = relative.with_name(relative.name[: -len(SUFFIX)])
            files.append(File(target, text.encode("utf-8"), executable))
        else:
            files.append(File(relative, source.read_bytes(), executable))
    return files


def write_new(dest: Path, files: Iterable[File], check: Callable[[Path], None]) -> None:
    """Write ``files`` into the new folder ``dest``: staged next to it, ``check``-ed there, then
    renamed into place, so a failed check or write leaves nothing behind."""
    if dest.exists():
        raise UserError(f"{dest} already exists", hint="choose another name or folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()  # with the user's umask, unlike mkdtemp's 0700
    try:
        write_into(staging, files)
        check(staging)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_into(folder: Path, files: Iterable[File]) -> None:
    """Write ``files`` under ``folder`` (which exists); existing files are replaced."""
    for f in files:
        target = folder.joinpath(*f.path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.content)
        target.chmod(0o755 if f.executable else 0o644)
