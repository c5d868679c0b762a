"""Where the data shipped with somlier lives: inside the wheel, or atop a source checkout."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def data_dir(name: str) -> Path:
    """``schemas``, ``dag_templates``, ``deploy_templates``, ``project_template`` or ``actions``."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"somlier is installed without its {name!r} data: reinstall it")


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``schemas/``, e.g. ``somlier`` or ``platform``."""
    path = data_dir("schemas") / f"{name}.schema.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
