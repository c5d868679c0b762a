"""Deployments run one at a time on a background thread, fed by a bounded queue.

One worker on purpose: deployments open or update PRs in one deploy repository, and two at once
for the same model would race. The work itself is an injected :data:`Deployer`, so tests run the
lifecycle with fakes and ``somlier api`` plugs in the real Kubernetes deployment.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from pipeline.errors import SomlierError
from pipeline.online.request import DeployRequest
from pipeline.server.store import DeploymentStore

Progress = Callable[[str], None]
Deployer = Callable[[DeployRequest, Progress], dict[str, Any]]

log = logging.getLogger("somlier.api")

_STOP = object()


class QueueFull(Exception):
    """More deployments are waiting than the queue holds."""


def describe_failure(exc: BaseException) -> str:
    """The error recorded for a failed deployment: a user-facing message, never a traceback."""
    if isinstance(exc, SomlierError):
        return f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    return f"internal error: {type(exc).__name__}: {exc} (details in the server log)"


class DeploymentWorker:
    """Runs queued deployments in order and records their status and progress in the store."""

    def __init__(self, store: DeploymentStore, deployer: Deployer, *, queue_size: int) -> None:
        self._store = store
        self._deployer = deployer
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stopping_at: float | None = None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._thread is None:
            # A daemon: a deployment still running at shutdown must not hang the server's exit;
            # the next start marks it failed (see DeploymentStore.recover).
            self._stopping_at = None
            self._thread = threading.Thread(target=self._run, name="somlier-deployer", daemon=True)
            self._thread.start()

    def submit(self, ident: str) -> None:
        """Queue a recorded deployment; raise :class:`QueueFull` when no room is left."""
        try:
            self._queue.put_nowait(ident)
        except queue.Full:
            raise QueueFull(ident) from None

    def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued for at most ``timeout`` s, then stop taking more: the rest stays
        'queued' in the store and runs after the next start; a deployment still running then
        is marked failed at the next start (half of it may have happened)."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping_at = deadline
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=max(0.0, timeout))
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("stopping before the deployment queue drained: the rest runs next start")
        self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._stopping_at is not None and time.monotonic() >= self._stopping_at:
                return  # past the drain timeout: it stays queued in the store
            assert isinstance(item, str)
            self._execute(item)

    def _execute(self, ident: str) -> None:
        def progress(message: str) -> None:
            log.info("deployment %s: %s", ident, message)
            self._store.add_progress(ident, str(message))

        try:
            recorded = self._store.request_of(ident)
            if recorded is None:  # deleted meanwhile
                return
            self._store.start(ident)
            log.info("deployment %s: started", ident)
            result = self._deployer(DeployRequest(**recorded), progress)
            self._store.succeed(ident, result)
            log.info("deployment %s: succeeded", ident)
        except Exception as exc:
            if isinstance(exc, SomlierError):
                log.info("deployment %s: failed: %s", ident, exc.message)
            else:
                log.exception("deployment %s: internal error", ident)
            try:
                self._store.fail(ident, describe_failure(exc))
            except Exception:
                log.exception("deployment %s: cannot record the failure", ident)
