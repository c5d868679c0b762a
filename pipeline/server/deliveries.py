"""The GitHub deliveries the receiver has taken, in SQLite (its own file: the API's schema is
not touched).

Each delivery is recorded with its body before its work is queued, so work left ``queued`` or
``running`` by a stop (SIGTERM past the drain timeout, SIGKILL, a crash) is found again and run
at the next start. Replays are recognised twice: by the delivery id (``X-GitHub-Delivery``, which
is *not* signed) and by keys taken from the signed body (its SHA-256 digest, and for a comment
its id and action), so one captured body acts once even when sent again with a new id.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    result      TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_received_at ON deliveries (received_at);
CREATE TABLE IF NOT EXISTS signed (
    key         TEXT PRIMARY KEY,
    delivery    TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signed_received_at ON signed (received_at);
"""
UNFINISHED = ("queued", "running")
# GitHub redelivers a delivery of the past three days at most; ids are kept a while longer.
KEEP_DELIVERIES = timedelta(days=7)
# The keys of signed bodies are what stops a replay with a fresh id: kept much longer.
KEEP_SIGNED = timedelta(days=400)


class Claim(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"  # this delivery id was taken before (a redelivery)
    REPLAY = "replay"  # another id, but a signed body (or comment) seen before


@dataclass(frozen=True)
class Pending:
    """A delivery whose work has not finished: what :meth:`DeliveryStore.unfinished` returns."""

    id: str
    event: str
    payload: dict[str, Any]


def signed_keys(event: str, body: bytes, payload: dict[str, Any]) -> tuple[str, ...]:
    """What identifies the signed content of a delivery, whatever its (unsigned) id."""
    keys = [f"sha256:{hashlib.sha256(body).hexdigest()}"]
    comment = payload.get("comment")
    action = payload.get("action")
    if isinstance(comment, dict) and isinstance(action, str):
        ident = comment.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool):
            # An edit is a new event each time: its timestamp tells edits apart.
            when = comment.get("updated_at") if action == "edited" else None
            keys.append(f"{event}:comment:{ident}:{action}" + (f":{when}" if when else ""))
    return tuple(keys)


class DeliveryStore:
    """Thread-safe. Finished deliveries older than ``keep`` are dropped as new ones come in:
    GitHub redelivers only recent deliveries, so the file stays small on a server that runs
    for years."""

    def __init__(
        self,
        path: Path,
        *,
        keep: timedelta = KEEP_DELIVERIES,
        keep_signed: timedelta = KEEP_SIGNED,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._keep = keep
        self._keep_signed = keep_signed
        self._now = now
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(deliveries)")}
        if "body" not in columns:  # a file written before bodies were kept
            self._db.execute("ALTER TABLE deliveries ADD COLUMN body BLOB")

    def claim(
        self, delivery: str, event: str, *, body: bytes = b"", keys: Iterable[str] = ()
    ) -> Claim:
        """Record ``delivery`` with its ``body`` (kept until its work is over), unless its id
        or one of the signed ``keys`` was recorded before."""
        now = self._now().astimezone(timezone.utc)
        stamp = now.isoformat(timespec="seconds")
        cutoff = (now - self._keep).isoformat(timespec="seconds")
        signed_cutoff = (now - self._keep_signed).isoformat(timespec="seconds")
        keys = tuple(keys)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = self._claim(delivery, event, body, keys, stamp, cutoff, signed_cutoff)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return result

    def _claim(
        self,
        delivery: str,
        event: str,
        body: bytes,
        keys: tuple[str, ...],
        stamp: str,
        cutoff: str,
        signed_cutoff: str,
    ) -> Claim:
        db = self._db
        db.execute(
            "DELETE FROM deliveries WHERE received_at < ? AND state NOT IN ('queued', 'running')",
            (cutoff,),
        )
        db.execute("DELETE FROM signed WHERE received_at < ?", (signed_cutoff,))
        if db.execute("SELECT 1 FROM deliveries WHERE id = ?", (delivery,)).fetchone():
            return Claim.DUPLICATE
        for key in keys:
            if db.execute("SELECT 1 FROM signed WHERE key = ?", (key,)).fetchone():
                return Claim.REPLAY
        db.execute(
            "INSERT INTO deliveries (id, event, received_at, body) VALUES (?, ?, ?, ?)",
            (delivery, event, stamp, body),
        )
        db.executemany(
            "INSERT INTO signed (key, delivery, received_at) VALUES (?, ?, ?)",
            [(key, delivery, stamp) for key in keys],
        )
        return Claim.NEW

    def start(self, delivery: str) -> None:
        with self._lock:
            self._db.execute("UPDATE deliveries SET state = 'running' WHERE id = ?", (delivery,))

    def finish(self, delivery: str, state: str, result: Any) -> None:
        """The work is over (``done``, ``failed``, ``ignored``): the body is dropped."""
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state = ?, result = ?, body = NULL WHERE id = ?",
                (state, json.dumps(result, default=str), delivery),
            )

    def pending(self, delivery: str) -> Pending | None:
        """The event and payload of an unfinished delivery (None once it is over)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, event, body FROM deliveries WHERE id = ? AND state IN (?, ?)",
                (delivery, *UNFINISHED),
            ).fetchone()
        return _pending(row) if row is not None else None

    def unfinished(self) -> list[Pending]:
        """Deliveries left queued or running by an earlier process, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event, body FROM deliveries WHERE state IN (?, ?) "
                "ORDER BY received_at, rowid",
                UNFINISHED,
            ).fetchall()
        return [_pending(row) for row in rows]

    def get(self, delivery: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, event, received_at, state, result FROM deliveries WHERE id = ?",
                (delivery,),
            ).fetchone()
        if row is None:
            return None
        keys = ("id", "event", "received_at", "state", "result")
        data = dict(zip(keys, row, strict=True))
        data["result"] = json.loads(data["result"]) if data["result"] else None
        return data

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _pending(row: tuple[Any, ...]) -> Pending:
    ident, event, body = row
    try:
        payload = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        payload = {}
    return Pending(ident, event, payload if isinstance(payload, dict) else {})
