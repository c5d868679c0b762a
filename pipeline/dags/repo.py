"""``somlier dags init DIR``: put the operators package somlier's DAGs import into a dags repo."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.errors import UserError
from pipeline.resources import data_dir

OPERATORS = "operators"

Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Written:
    path: Path
    status: Status


def operator_files() -> dict[str, bytes]:
    """The package as shipped: ``{"__init__.py": …, "mlops_offline_operator.py": …}``."""
    source = data_dir("dag_templates") / OPERATORS
    return {p.name: p.read_bytes() for p in sorted(source.glob("*.py"))}


def _write_atomically(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        Path(tmp).chmod(0o644)  # mkstemp makes 0600; Airflow's workers read these files
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def init_dags_repo(directory: Path, *, dry_run: bool = False) -> list[Written]:
    """Copy ``dag_templates/operators/`` into ``directory/operators/`` (created if missing):
    new files are created, changed ones replaced, other files there left alone. With
    ``dry_run``, say what would change and write nothing."""
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory}: not a folder", hint="pass the dags repository's folder")
    target = directory / OPERATORS
    if target.exists() and not target.is_dir():
        raise UserError(f"{target}: exists and is not a folder", hint="move it away first")
    written = []
    for name, content in operator_files().items():
        path = target / name
        if not path.exists():
            status: Status = "created"
        elif path.read_bytes() == content:
            status = "unchanged"
        else:
            status = "updated"
        if status != "unchanged" and not dry_run:
            target.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, content)
        written.append(Written(path, status))
    return written
