"""Deployments recorded in SQLite (stdlib ``sqlite3``, WAL), so a restart of the API loses nothing.

The schema has a version (``PRAGMA user_version``) and no migrations: a file written by another
version is refused with a clear message instead of being read wrongly. One connection, shared by
the request handlers and the worker thread behind a lock; every write is its own transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal

from pipeline.errors import UserError

SCHEMA_VERSION = 1
MEMORY = ":memory:"
Status = Literal["queued", "running", "succeeded", "failed"]
UNFINISHED: tuple[Status, ...] = ("queued", "running")
INTERRUPTED = (
    "the API server stopped while this deployment was running; what it did before is unknown: "
    "check the deploy repository, then submit it again"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id          TEXT PRIMARY KEY,
    request     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    result      TEXT,
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS deployments_status ON deployments (status);
CREATE TABLE IF NOT EXISTS progress (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    at            TEXT NOT NULL,
    message       TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);
"""


def _claim(path: Path) -> IO[str]:
    """Own ``path`` for this process (an exclusive lock on ``PATH.lock``): a second server on
    the same database would take the first one's running deployments for interrupted ones."""
    owner = path.with_name(path.name + ".lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.seek(0)
        pid = owner.read().strip() or "?"
        owner.close()
        raise UserError(
            f"{path} is in use by another somlier api (pid {pid})",
            hint="stop that one first, or pass another --db PATH",
        ) from None
    owner.truncate(0)
    owner.write(str(os.getpid()))
    owner.flush()
    return owner


def now() -> str:
    """UTC, ISO 8601 with microseconds: sorts as text, parses with ``datetime.fromisoformat``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ProgressEntry:
    at: str
    message: str


@dataclass(frozen=True)
class Deployment:
    """One row, with its progress messages in order."""

    id: str
    request: dict[str, Any]
    status: Status
    progress: tuple[ProgressEntry, ...]
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class Recovery:
    """What :meth:`DeploymentStore.recover` found left over from a previous process."""

    requeued: tuple[str, ...]  # never started: safe to run now
    failed: tuple[str, ...]  # were running: marked failed, since half of a deploy may have happened


class DeploymentStore:
    """The deployments table. Thread-safe; ``close()`` when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._owner: IO[str] | None = None
        try:
            if str(path) != MEMORY:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._owner = _claim(path)
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=10
            )
        except (OSError, sqlite3.Error) as exc:
            self._release()
            raise UserError(
                f"cannot open the API database {path}: {exc}", hint="pass a writable --db PATH"
            ) from exc
        self._lock = threading.Lock()
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            self._release()
            raise UserError(
                f"{path} is not a usable somlier API database: {exc}",
                hint="pass another --db PATH, or move this file away",
            ) from exc

    def _release(self) -> None:
        if self._owner is not None:
            self._owner.close()  # closing the file drops the lock
            self._owner = None

    def _setup(self) -> None:
        db = self._db
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = db.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name NOT IN "
                    "('deployments', 'deployments_status', 'progress')"
                ).fetchone()[0]
                if tables:
                    raise sqlite3.DatabaseError("it holds other tables")
                db.executescript(
                    f"BEGIN IMMEDIATE;\n{_SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
                )
            elif version != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"its schema version is {version}, this somlier reads version {SCHEMA_VERSION}"
                )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._release()

    def ping(self) -> None:
        """Raise ``sqlite3.Error`` when the database cannot be read."""
        with self._lock:
            self._db.execute("SELECT count(*) FROM deployments").fetchone()

    def create(self, request: dict[str, Any]) -> str:
        """Record a queued deployment; return its id (32 hex digits)."""
        ident = uuid.uuid4().hex
        stamp = now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO deployments (id, request, status, created_at, updated_at) "
                "VALUES (?, ?, 'queued', ?, ?)",
                (ident, json.dumps(request, sort_keys=True), stamp, stamp),
            )
        return ident

    def delete(self, ident: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM deployments WHERE id = ?", (ident,))

    def start(self, ident: str) -> None:
        stamp = now()
        with self._transaction() as db:
            db.execute(
                "UPDATE deployments SET status = 'running', started_at = ?, updated_at = ? "
                "WHERE id = ?",
                (stamp, stamp, ident),
            )

    def add_progress(self, ident: str, message: str) -> None:
        stamp = now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO progress (deployment_id, seq, at, message) VALUES (?, "
                "(SELECT coalesce(max(seq), 0) + 1 FROM progress WHERE deployment_id = ?), ?, ?)",
                (ident, ident, stamp, message),
            )
            db.execute("UPDATE deployments SET updated_at = ? WHERE id = ?", (stamp, ident))

    def succeed(self, ident: str, result: dict[str, Any]) -> None:
        self._finish(ident, "succeeded", json.dumps(result, sort_keys=True), None)

    def fail(self, ident: str, error: str) -> None:
        self._finish(ident, "failed", None, error)

    def _finish(self, ident: str, status: Status, result: str | None, error: str | None) -> None:
        stamp = now()
        with self._transaction() as db:
            db.execute(
                "UPDATE deployments SET status = ?, result = ?, error = ?, finished_at = ?, "
                "updated_at = ? WHERE id = ?",
                (status, result, error, stamp, stamp, ident),
            )

    def recover(self) -> Recovery:
        """After a restart: fail what was running; hand back what was queued, oldest first."""
        stamp = now()
        with self._transaction() as db:
            running = [
                r[0] for r in db.execute("SELECT id FROM deployments WHERE status = 'running'")
            ]
            db.execute(
                "UPDATE deployments SET status = 'failed', error = ?, finished_at = ?, "
                "updated_at = ? WHERE status = 'running'",
                (INTERRUPTED, stamp, stamp),
            )
            queued = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM deployments WHERE status = 'queued' ORDER BY created_at, id"
                )
            ]
        return Recovery(requeued=tuple(queued), failed=tuple(running))

    def get(self, ident: str) -> Deployment | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, request, status, result, error, created_at, updated_at, started_at, "
                "finished_at FROM deployments WHERE id = ?",
                (ident,),
            ).fetchone()
            if row is None:
                return None
            progress = self._db.execute(
                "SELECT at, message FROM progress WHERE deployment_id = ? ORDER BY seq", (ident,)
            ).fetchall()
        return Deployment(
            id=row[0],
            request=json.loads(row[1]),
            status=row[2],
            progress=tuple(ProgressEntry(at, message) for at, message in progress),
            result=json.loads(row[3]) if row[3] is not None else None,
            error=row[4],
            created_at=row[5],
            updated_at=row[6],
            started_at=row[7],
            finished_at=row[8],
        )

    def request_of(self, ident: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT request FROM deployments WHERE id = ?", (ident,)
            ).fetchone()
        return json.loads(row[0]) if row is not None else None
