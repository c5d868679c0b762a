"""``POST /webhooks/github``: GitHub's signed deliveries, answered at once, worked on in the
background by the same code as ``somlier pipeline event`` (:mod:`pipeline.chatops.handle`).

Every delivery must carry ``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the shared
secret, compared in constant time; missing or wrong → 401 and nothing else. Deliveries about
another repository than ``github.projects_repo`` are ignored (and logged). A delivery is recorded
in SQLite with its body before its work is queued (:mod:`pipeline.server.deliveries`), so a
redelivery or a replay (even with a new id) acts once, and work cut short by a stop runs at the
next start.

The receiver (:class:`WebhookReceiver`: secret, delivery store, handler, one worker thread) is
built at the CLI edge and handed to ``create_app(state={"github_webhooks": receiver})``; without
it the route answers 503.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pipeline.secret import Secret
from pipeline.server.deliveries import Claim, DeliveryStore, signed_keys

__all__ = ["Claim", "DeliveryStore", "WebhookReceiver", "receiver_for", "signature", "verify"]

log = logging.getLogger("somlier.webhooks")
router = APIRouter()
STATE_KEY = "github_webhooks"
# GitHub caps payloads at 25 MB: the body limit (pipeline.server.limits) of this route.
MAX_BODY = 25 * 1024 * 1024
DRAIN_TIMEOUT = 30.0

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


def same_repository(given: object, configured: str) -> bool:
    """GitHub compares owner/name case-insensitively, and its names are ASCII: any other
    character (a Unicode lookalike such as the Kelvin sign, which ``lower()`` folds to "k") is
    another repository."""
    return (
        isinstance(given, str)
        and given.isascii()
        and configured.isascii()
        and given.lower() == configured.lower()
    )


def repository_of(payload: dict[str, Any]) -> object:
    repository = payload.get("repository")
    return repository.get("full_name") if isinstance(repository, dict) else None


class WebhookReceiver:
    """What the route needs. ``handler(event, payload)`` runs in one background thread, in
    order of arrival; ``classify(event, payload)`` (optional, fast, no I/O) returns why an event
    is ignored, so such deliveries are answered 200 without queueing anything.

    ``repository``: the projects repository (``github.projects_repo``); deliveries about any
    other repository are ignored, and every one is when it is not set. ``start()`` re-queues
    what an earlier process left unfinished; ``stop(timeout)`` drains the queue for at most
    ``timeout`` seconds and leaves the rest recorded for the next start.
    """

    def __init__(
        self,
        secret: Secret | None,
        deliveries: DeliveryStore,
        handler: Handler,
        *,
        classify: Classifier | None = None,
        repository: str | None = None,
    ) -> None:
        self.secret = secret
        self.deliveries = deliveries
        self.handler = handler
        self.classify = classify
        self.repository = repository
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def foreign(self, payload: dict[str, Any]) -> str | None:
        """Why a delivery is not about the projects repository (None: it is)."""
        if self.repository is None:
            return "github.projects_repo is not set: deliveries of no repository are acted on"
        given = repository_of(payload)
        if same_repository(given, self.repository):
            return None
        shown = given[:100] if isinstance(given, str) else None
        return f"the delivery is about {shown!r}, not the projects repository {self.repository}"

    def _canonical(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload naming the projects repository as configured (GitHub accepted another
        case of it; API paths are built from this name)."""
        repository = payload.get("repository")
        if self.repository is not None and isinstance(repository, dict):
            payload = {**payload, "repository": {**repository, "full_name": self.repository}}
        return payload

    def start(self) -> list[str]:
        """Start the worker; queue again what was left queued or running. Returns those ids."""
        left = [p.id for p in self.deliveries.unfinished()]
        for ident in left:
            log.warning("delivery %s: left unfinished by the last stop, run again", ident)
            self._queue.put(ident)
        if self._thread is None:
            self._stopping.clear()
            # A daemon: work still running past the drain timeout must not hold the exit; it
            # stays 'running' in the store and runs again at the next start.
            self._thread = threading.Thread(target=self._run, name="somlier-webhook", daemon=True)
            self._thread.start()
        return left

    def submit(self, delivery: str) -> None:
        """Queue a claimed delivery (its payload is in the store)."""
        self._queue.put(delivery)

    def _run(self) -> None:
        while not self._stopping.is_set():
            item = self._queue.get()
            try:
                if item is None or self._stopping.is_set():
                    return
                self._work(item)
            finally:
                self._queue.task_done()

    def _work(self, delivery: str) -> None:
        try:
            pending = self.deliveries.pending(delivery)
            if pending is None:  # finished meanwhile
                return
            foreign = self.foreign(pending.payload)  # the settings may differ after a restart
            if foreign is not None:
                self._finish(delivery, "ignored", {"ignored": True, "reason": foreign})
                return
            self.deliveries.start(delivery)
            result = self.handler(pending.event, self._canonical(pending.payload))
        except Exception as exc:  # the delivery is answered already: the log is the report
            log.exception("delivery %s failed", delivery)
            self._finish(delivery, "failed", {"error": str(exc) or type(exc).__name__})
            return
        to_json = getattr(result, "to_json", None)
        self._finish(delivery, "done", to_json() if callable(to_json) else None)

    def _finish(self, delivery: str, state: str, result: Any) -> None:
        try:
            self.deliveries.finish(delivery, state, result)
        except sqlite3.Error:  # closed by a stop that did not wait for this one
            log.exception("delivery %s: cannot record that it is %s", delivery, state)

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until the queue is empty and nothing runs (at most ``timeout`` s); whether it
        is."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def stop(self, timeout: float = DRAIN_TIMEOUT) -> bool:
        """Drain for at most ``timeout`` s, then take no more work; whether all was done."""
        if self._thread is None:
            return True
        drained = self.drain(timeout)
        self._stopping.set()
        self._queue.put(None)
        if drained:
            self._thread.join(timeout=5)
        else:
            log.warning(
                "stopping before the webhook queue drained: what is left runs at the next start"
            )
        self._thread = None
        return drained

    def close(self) -> None:
        self.stop(0)
        self.deliveries.close()


def _answer(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


@router.post(
    "/webhooks/github",
    status_code=202,
    summary="GitHub webhook deliveries",
    tags=["webhooks"],
    responses={
        200: {
            "description": "A ping, an ignored event (or one about another repository), or a "
            "delivery already received (same id, or same signed body or comment)."
        },
        202: {"description": "Accepted: the work runs in the background."},
        400: {"description": "Not a GitHub delivery (headers or JSON body missing)."},
        401: {"description": "X-Hub-Signature-256 missing or wrong."},
        413: {"description": "The body is larger than GitHub sends (25 MB)."},
        503: {"description": "The receiver is not configured (no webhook secret)."},
    },
)
async def github_webhook(request: Request) -> JSONResponse:
    """Verify the signature, drop replays, answer at once; the work runs in the background.

    The body's size was checked while it was read (:mod:`pipeline.server.limits`), before this
    runs."""
    receiver = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(receiver, WebhookReceiver) or receiver.secret is None:
        return _answer(503, detail="the webhook receiver is not configured (no webhook secret)")
    body = await request.body()
    if not verify(receiver.secret, body, request.headers.get("x-hub-signature-256")):
        return _answer(401, detail="X-Hub-Signature-256 is missing or wrong")
    event = request.headers.get("x-github-event")
    delivery = request.headers.get("x-github-delivery")
    if not event or not delivery or len(delivery) > 100 or len(event) > 100:
        return _answer(400, detail="X-GitHub-Event and X-GitHub-Delivery are required")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _answer(400, detail="the body is not JSON (set the webhook's content type to json)")
    except RecursionError:
        return _answer(400, detail="the body is nested too deeply to be a GitHub delivery")
    if not isinstance(payload, dict):
        return _answer(400, detail="the body is not a JSON object")
    if event == "ping":
        return _answer(200, delivery=delivery, event=event, detail="pong")
    claim = receiver.deliveries.claim(
        delivery, event, body=body, keys=signed_keys(event, body, payload)
    )
    if claim is Claim.REPLAY:
        log.warning("delivery %s (%s): a replay of a signed body seen before", delivery, event)
    if claim is not Claim.NEW:
        return _answer(200, delivery=delivery, event=event, duplicate=True)
    reason = receiver.classify(event, payload) if receiver.classify is not None else None
    if reason is None:
        reason = receiver.foreign(payload)
        if reason is not None:
            log.warning("delivery %s (%s) ignored: %s", delivery, event, reason)
    if reason is not None:
        receiver.deliveries.finish(delivery, "ignored", {"ignored": True, "reason": reason})
        return _answer(200, delivery=delivery, event=event, ignored=True, reason=reason)
    receiver.submit(delivery)
    return _answer(202, delivery=delivery, event=event, queued=True)


def receiver_for(
    secret: Secret | None,
    database: Path,
    handler: Handler,
    *,
    classify: Classifier | None = None,
    repository: str | None = None,
) -> WebhookReceiver:
    """The receiver for ``create_app(state={"github_webhooks": receiver})``, its deliveries in
    ``webhooks.sqlite3`` next to the API database (``database``)."""
    return WebhookReceiver(
        secret,
        DeliveryStore(database.parent / "webhooks.sqlite3"),
        handler,
        classify=classify,
        repository=repository,
    )
