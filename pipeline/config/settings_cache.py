"""Validated platform settings kept between runs, keyed by exactly what they were made from.

Loading the settings means importing the YAML loader and the schema module, parsing
``.somlier/platform.yaml`` and validating it: 30 to 50 ms of every CI step, for a file that rarely
changes. A successful load is stored in the user's cache (``settings/<crc32>.json``) with its key:
every input, written out: the text of the file (or its absence), the ``SOMLIER__…`` variables,
the size and modification time of the schema and of the code that reads them, and somlier's
version. An entry is used only when its key equals the current one, so it cannot go stale;
anything else is a miss and a full load.

Not cached: a file that uses ``${VAR}`` (its value depends on the whole environment, and an
interpolated token must not land on disk), data that JSON cannot carry exactly, and anything
that failed: errors are always found by the full load.

This module stays light (no YAML, no schema, no dataclasses): ``somlier pipeline changed`` reads
``monorepo.global_paths`` from here without defining the settings classes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline import __version__, resources

FORMAT = 1
FILENAME = Path(".somlier") / "platform.yaml"
ENV_PREFIX = "SOMLIER__"
KEEP = 32  # entries kept; the oldest go when a new one is stored

# The code whose behaviour the stored data depends on: parsing, interpolation, overrides, schema.
_CODE = ("settings.py", "yamlsafe.py", "interpolate.py", "schema.py")
_SCHEMA = "platform.schema.json"


def key(root: Path | None, environ: Mapping[str, str]) -> str | None:
    """Every input of the settings at ``root`` under ``environ``, as one text (compared whole, so
    no two inputs share an entry); None when they are not cacheable (the file interpolates
    ``${VAR}``, is not UTF-8, or cannot be read: the full load reports that)."""
    here = Path(__file__).parent
    parts = [f"somlier-settings {FORMAT} {__version__}"]
    try:
        # The code and the schema by size and modification time: a new release changes the
        # version, an edit in a checkout the time (reading and hashing them costs more).
        for path in (*(here / n for n in _CODE), resources.data_dir("schemas") / _SCHEMA):
            st = path.stat()
            parts.append(f"{path.name} {st.st_size} {st.st_mtime_ns}")
        raw = (root / FILENAME).read_bytes() if root is not None else None
    except FileNotFoundError:
        raw = None
    except OSError:
        return None
    parts += [f"{n}={environ[n]}" for n in sorted(environ) if n.startswith(ENV_PREFIX)]
    if raw is None:
        return "\0".join([*parts, "no file"])
    if b"${" in raw:
        return None
    try:
        return "\0".join([*parts, "file", raw.decode("utf-8")])
    except UnicodeDecodeError:
        return None


def _path(entry: str, environ: Mapping[str, str]) -> Path:
    import zlib  # a file name for the entry, not its identity: the whole key is compared

    return resources.cache_dir(environ) / "settings" / f"{zlib.crc32(entry.encode()):08x}.json"


def load(entry: str | None, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The stored entry for ``entry`` (``{"key", "data", "global_paths"}``), or None."""
    if entry is None:
        return None
    try:
        stored: Any = json.loads(_path(entry, environ).read_bytes())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(stored, dict)
        or stored.get("key") != entry
        or not isinstance(stored.get("data"), dict)
        or not isinstance(stored.get("global_paths"), list)
    ):
        return None
    return stored


def store(
    entry: str | None,
    environ: Mapping[str, str],
    data: dict[str, Any],
    global_paths: tuple[str, ...],
) -> None:
    """Keep validated ``data`` under ``entry`` (atomically; an unwritable cache is no error)."""
    if entry is None:
        return
    try:
        text = json.dumps(
            {"key": entry, "data": data, "global_paths": list(global_paths)},
            separators=(",", ":"),
            allow_nan=False,
        )
    except (TypeError, ValueError):  # a value JSON cannot carry (a date, NaN)
        return
    if json.loads(text)["data"] != data:  # carried, but not exactly (a number as a key)
        return
    path = _path(entry, environ)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Owner-only, like ~/.docker/config.json: a SOMLIER__ variable may carry a URL with a
        # password in it (an MLflow tracking URI), and the entry holds it.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        partial.replace(path)
        _prune(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


def global_paths(root: Path | None, environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """``monorepo.global_paths`` from a stored entry, or None on a miss."""
    stored = load(key(root, environ), environ)
    return tuple(stored["global_paths"]) if stored is not None else None
