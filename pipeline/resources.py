"""Where the data shipped with somlier lives: inside the wheel, or atop a source checkout."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
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


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """somlier's folder in the user's cache (``$XDG_CACHE_HOME/somlier``, else
    ``~/.cache/somlier``): compiled validators, validated settings, probes of local tools, wheels.
    Everything there is derived and keyed by what it was made from: deleting it only costs time."""
    base = environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path(environ.get("HOME") or "~") / ".cache"
    return root.expanduser() / "somlier"
