"""Write generated files atomically: a reader (Airflow's DAG processor, git) sees the old file
or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from enum import Enum
from pathlib import Path

# What a new file gets (rw-r--r--): mkstemp's 0600 would hide a DAG from other users.
NEW_FILE_MODE = 0o644


class Outcome(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def outcome_of(path: Path, text: str) -> Outcome:
    """What :func:`write_atomic` would do (for ``--dry-run``)."""
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        return Outcome.CREATED
    return Outcome.UNCHANGED if old == text.encode("utf-8") else Outcome.UPDATED


def write_atomic(path: Path, text: str) -> Outcome:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` through a temporary file in the
    same folder and :func:`os.replace`. An identical file is left alone; an existing file keeps
    its permissions. Parent folders are created."""
    data = text.encode("utf-8")
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = None
    if old == data:
        return Outcome.UNCHANGED
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if old is not None else NEW_FILE_MODE
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(mode)
        temp.replace(path)  # os.replace: atomic within one file system
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return Outcome.CREATED if old is None else Outcome.UPDATED


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
