"""``POST /webhooks/github``: GitHub's signed deliveries, answered at once, worked on in the
background by the same code as ``somlier pipeline event`` (:mod:`pipeline.chatops.handle`).

Every delivery must carry ``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the shared
secret, compared in constant time; missing or wrong → 401 and nothing else. A delivery id
(``X-GitHub-Delivery``) is recorded in SQLite before its work is queued, so a redelivery or a
replay acts once, across restarts.

The receiver (:class:`WebhookReceiver`: secret, delivery store, handler, one worker thread) is
built at the CLI edge and handed to ``create_app(state={"github_webhooks": receiver})``; without
it the route answers 503.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pipeline.config.settings import Secret

log = logging.getLogger("somlier.webhooks")
router = APIRouter()
STATE_KEY = "github_webhooks"
MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    result      TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_received_at ON deliveries (received_at);
"""
# GitHub redelivers a delivery of the past three days at most; ids are kept a while longer.
KEEP_DELIVERIES = timedelta(days=7)

Handler = Callable[[str, dict[str, Any]], Any]
Classifier = Callable[[str, dict[str, Any]], str | None]


def signature(secret: Secret, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    digest = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: Secret, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(
        signature(secret, body).encode(), header.encode("utf-8", "replace")
    )


class DeliveryStore:
    """The delivery ids seen, in SQLite (its own file: the API's schema is not touched). Ids
    older than ``keep`` whose work is over are dropped as new ones come in: GitHub redelivers
    only recent deliveries, so the file stays small on a server that runs for years."""

    def __init__(
        self,
        path: Path,
        *,
        keep: timedelta = KEEP_DELIVERIES,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._keep = keep
        self._now = now
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def claim(self, delivery: str, event: str) -> bool:
        """Record ``delivery``; False when it was recorded before (a replay)."""
        now = self._now().astimezone(timezone.utc)
        stamp, cutoff = (t.isoformat(timespec="seconds") for t in (now, now - self._keep))
        with self._lock:
            self._db.execute(
                "DELETE FROM deliveries WHERE received_at < ? AND state != 'queued'", (cutoff,)
            )
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (id, event, received_at) VALUES (?, ?, ?)",
                (delivery, event, stamp),
            )
            return cursor.rowcount == 1

    def finish(self, delivery: str, state: str, result: Any) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state = ?, result = ? WHERE id = ?",
                (state, json.dumps(result, default=str), delivery),
            )

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


class WebhookReceiver:
    """What the route needs. ``handler(event, payload)`` runs in one background thread, in
    order of arrival; ``classify(event, payload)`` (optional, fast, no I/O) returns why an event
    is ignored, so such deliveries are answered 200 without queueing anything."""

    def __init__(
        self,
        secret: Secret | None,
        deliveries: DeliveryStore,
        handler: Handler,
        *,
        classify: Classifier | None = None,
    ) -> None:
        self.secret = secret
        self.deliveries = deliveries
        self.handler = handler
        self.classify = classify
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="somlier-webhook")
        self._pending: list[Future[None]] = []

    def submit(self, delivery: str, event: str, payload: dict[str, Any]) -> None:
        self._pending = [f for f in self._pending if not f.done()]  # not one per delivery forever
        self._pending.append(self._pool.submit(self._work, delivery, event, payload))

    def _work(self, delivery: str, event: str, payload: dict[str, Any]) -> None:
        try:
            result = self.handler(event, payload)
        except Exception as exc:  # the delivery is answered already: the log is the report
            log.exception("delivery %s (%s) failed", delivery, event)
            self.deliveries.finish(delivery, "failed", {"error": str(exc) or type(exc).__name__})
            return
        to_json = getattr(result, "to_json", None)
        self.deliveries.finish(delivery, "done", to_json() if callable(to_json) else None)

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for the queued work (tests, and a clean shutdown)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.deliveries.close()


def _answer(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


@router.post(
    "/webhooks/github",
    status_code=202,
    summary="GitHub webhook deliveries",
    tags=["webhooks"],
    responses={
        200: {"description": "A ping, an ignored event, or a delivery already received."},
        202: {"description": "Accepted: the work runs in the background."},
        400: {"description": "Not a GitHub delivery (headers or JSON body missing)."},
        401: {"description": "X-Hub-Signature-256 missing or wrong."},
        503: {"description": "The receiver is not configured (no webhook secret)."},
    },
)
async def github_webhook(request: Request) -> JSONResponse:
    """Verify the signature, drop replays, answer at once; the work runs in the background."""
    receiver = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(receiver, WebhookReceiver) or receiver.secret is None:
        return _answer(503, detail="the webhook receiver is not configured (no webhook secret)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:  # refused before it is read
        return _answer(413, detail="the payload is larger than GitHub sends")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _answer(413, detail="the payload is larger than GitHub sends")
    if not verify(receiver.secret, body, request.headers.get("x-hub-signature-256")):
        return _answer(401, detail="X-Hub-Signature-256 is missing or wrong")
    event = request.headers.get("x-github-event")
    delivery = request.headers.get("x-github-delivery")
    if not event or not delivery or len(delivery) > 100:
        return _answer(400, detail="X-GitHub-Event and X-GitHub-Delivery are required")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _answer(400, detail="the body is not JSON (set the webhook's content type to json)")
    if not isinstance(payload, dict):
        return _answer(400, detail="the body is not a JSON object")
    if event == "ping":
        return _answer(200, delivery=delivery, event=event, detail="pong")
    if not receiver.deliveries.claim(delivery, event):
        return _answer(200, delivery=delivery, event=event, duplicate=True)
    reason = receiver.classify(event, payload) if receiver.classify is not None else None
    if reason is not None:
        receiver.deliveries.finish(delivery, "ignored", {"ignored": True, "reason": reason})
        return _answer(200, delivery=delivery, event=event, ignored=True, reason=reason)
    receiver.submit(delivery, event, payload)
    return _answer(202, delivery=delivery, event=event, queued=True)
