"""The ``${VAR}`` rule (:class:`~pipeline.config.variables.Variables`) of a monorepo, from its
platform settings: those :func:`~pipeline.config.pins.pinned` for it, else the ones loaded from
its ``.somlier/platform.yaml``; the last one found is kept for the run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline.config import settings_cache
from pipeline.config.location import platform_root
from pipeline.config.pins import pinned_for
from pipeline.config.settings import PlatformSettings
from pipeline.config.settings_load import load_settings
from pipeline.config.variables import Variables, from_settings
from pipeline.errors import UserError

_KNOWN: dict[str, Variables] = {}  # by the settings' inputs (see settings_cache.key)


def for_root(root: Path | None, environ: Mapping[str, str]) -> Variables:
    """The rule of the monorepo at ``root``. Settings that do not load give the strictest rule
    (nothing allowed): their own errors are reported where they are loaded."""
    pin = pinned_for(root)
    if pin is not None:
        return from_settings(pin)
    inputs = settings_cache.key(root, environ)
    if inputs is not None and inputs in _KNOWN:
        return _KNOWN[inputs]
    try:
        settings = load_settings(root, environ)
    except UserError:
        settings = PlatformSettings()
    found = from_settings(settings)
    if inputs is not None:
        _KNOWN.clear()  # one monorepo per run, nearly always
        _KNOWN[inputs] = found
    return found


def for_file(path: Path, environ: Mapping[str, str]) -> Variables:
    """The rule for the somlier.yaml at ``path``: that of the monorepo around it."""
    return for_root(platform_root(path.resolve().parent), environ)
