"""The FastAPI application of ``somlier api``, built by a factory so tests inject its parts.

``create_app(config, store, deployer)`` wires the routes, the bearer-token check, the error
answers (every error is a :class:`~pipeline.server.schemas.Problem`) and the lifespan: at start
it recovers deployments and webhook deliveries a previous process left unfinished and starts
their workers; at shutdown (SIGTERM, Ctrl-C) it drains both queues for at most
``ApiConfig.drain_timeout`` seconds, leaving the rest recorded for the next start. The store is
opened and closed by the caller.

Before any route, :mod:`pipeline.server.limits` caps the body's size as it is read and, without
authentication, refuses non-loopback ``Host`` values.

The GitHub webhook router (``pipeline.server.webhooks.router``) is included as is. Whatever it
needs comes from ``request.app.state``: ``config`` (:class:`ApiConfig`), ``store`` (its
``path`` tells where the API database lives), ``worker``, and every item of ``state`` given to
:func:`create_app` (the CLI edge builds those, e.g. the webhook secret).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import __version__
from pipeline.errors import StepFailed, UserError
from pipeline.online.request import DeployRequest
from pipeline.secret import Secret
from pipeline.server import webhooks
from pipeline.server.auth import authorized, require_token, unauthorized
from pipeline.server.deployers import LOCAL_REFUSED
from pipeline.server.limits import DEFAULT_BODY_LIMIT, BodyLimit, LoopbackHosts
from pipeline.server.problems import (
    answer,
    body_not_json,
    field_problem,
    refused_request,
    validation_problem,
)
from pipeline.server.schemas import (
    DeploymentStatus,
    DeployPayload,
    Health,
    Problem,
)
from pipeline.server.store import DeploymentStore
from pipeline.server.worker import Deployer, DeploymentWorker, QueueFull

log = logging.getLogger("somlier.api")

# Raises UserError when the request's model version cannot be deployed (not registered),
# StepFailed when the registry cannot be asked: run before anything is queued.
ModelCheck = Callable[[DeployRequest], None]

DESCRIPTION = """\
Deploy registered MLflow models through somlier, and follow the deployments.

`POST /deploy` answers at once with a deployment id; the deployment runs in the background,
one at a time, and `GET /deployments/{id}` reports its progress. Deployments are recorded in
SQLite, so a restart loses nothing. Every operation but `/healthz` needs
`Authorization: Bearer TOKEN`. A model version that is not registered is refused at once (422)
with the registered versions.
"""

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or wrong bearer token."},
}
VALIDATION_ERROR: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "The request is malformed: `detail` says why."},
}


@dataclass(frozen=True)
class ApiConfig:
    """How the API behaves. ``token`` None: no authentication (``somlier api --no-auth``):
    loopback ``Host`` values only, and no ``env: prod``. ``drain_timeout``: seconds a stop
    waits for queued work."""

    token: Secret | None
    queue_size: int = 16
    drain_timeout: float = 30.0


def create_app(
    config: ApiConfig,
    store: DeploymentStore,
    deployer: Deployer,
    *,
    state: Mapping[str, Any] | None = None,
    check: ModelCheck | None = None,
) -> FastAPI:
    """The ASGI app. Run its lifespan (uvicorn, or ``with TestClient(app)``) to run deployments.

    ``check``: refuses (422) a request whose model version is not registered, before it is
    queued; ``somlier api`` asks the MLflow registry the deployer reads."""
    worker = DeploymentWorker(store, deployer, queue_size=config.queue_size)
    receiver = (state or {}).get(webhooks.STATE_KEY)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recovery = store.recover()
        for ident in recovery.failed:
            log.warning("deployment %s: interrupted by the last shutdown, marked failed", ident)
        worker.start()
        for ident in recovery.requeued:
            try:
                worker.submit(ident)
            except QueueFull:
                store.fail(ident, "the queue was full when the server restarted: submit it again")
        if isinstance(receiver, webhooks.WebhookReceiver):
            receiver.start()
        yield
        deadline = time.monotonic() + config.drain_timeout
        log.info("stopping: finishing queued work (at most %ss)", config.drain_timeout)
        if isinstance(receiver, webhooks.WebhookReceiver):
            receiver.stop(max(0.0, deadline - time.monotonic()))
        worker.stop(max(0.0, deadline - time.monotonic()))

    app = FastAPI(
        title="somlier API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimit, limits={"/webhooks/github": webhooks.MAX_BODY}, default=DEFAULT_BODY_LIMIT
    )
    app.add_middleware(LoopbackHosts, enabled=config.token is None)  # outermost: runs first
    app.state.config = config
    app.state.store = store
    app.state.worker = worker
    for key, value in (state or {}).items():
        setattr(app.state, key, value)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Any:
        # FastAPI reads the body before it runs dependencies: a stranger gets 401, not a 422
        # that would describe the payload.
        if not authorized(request):
            denied = unauthorized()
            return answer(denied.status_code, Problem(detail=denied.detail), denied.headers)
        return answer(422, validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code == 400 and not authorized(request):
            exc = unauthorized()
        elif exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8)
            return answer(422, body_not_json(str(exc.detail)))
        return answer(exc.status_code, Problem(detail=str(exc.detail)), exc.headers)

    @app.get(
        "/healthz",
        response_model=Health,
        summary="Liveness and readiness",
        responses={503: {"model": Problem, "description": "The database cannot be read."}},
        tags=["health"],
    )
    def healthz() -> Any:
        """200 when the server answers and its database can be read (no token needed)."""
        try:
            store.ping()
        except sqlite3.Error as exc:
            return answer(503, Problem(detail=f"the database cannot be read: {exc}"))
        return Health(status="ok", version=__version__, waiting=worker.waiting)

    @app.post(
        "/deploy",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=DeploymentStatus,
        summary="Deploy a registered model version",
        dependencies=[Depends(require_token)],
        responses={
            **AUTH_ERRORS,
            403: {"model": Problem, "description": "`env: prod` on a server without auth."},
            413: {"model": Problem, "description": "The body is larger than 64 KiB."},
            **VALIDATION_ERROR,
            503: {
                "model": Problem,
                "description": "Too many deployments are waiting, or the model registry "
                "cannot be reached.",
            },
        },
        response_description="Accepted: `Location` is the URL of the deployment's status.",
        tags=["deployments"],
    )
    def deploy(payload: DeployPayload, response: Response) -> Any:
        """Queue a deployment and answer at once with its id; it runs in the background.

        Refused at once (422) when the model version is not registered (the answer lists the
        registered versions) or when ``is_k8s`` is false (local serving is the CLI's)."""
        try:
            request = payload.to_request()
        except UserError as exc:
            return answer(422, refused_request(exc))
        if not request.use_k8s:
            return answer(422, field_problem("is_k8s", LOCAL_REFUSED, "send is_k8s: true"))
        if config.token is None and request.env == "prod":
            return answer(
                403,
                Problem(
                    detail="env prod needs authentication: this server runs with --no-auth",
                ),
            )
        if check is not None:
            try:
                check(request)
            except UserError as exc:
                return answer(422, refused_request(exc))
            except StepFailed as exc:
                text = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
                return answer(503, Problem(detail=text), {"Retry-After": "30"})
        ident = store.create(request.to_json())
        try:
            worker.submit(ident)
        except QueueFull:
            store.delete(ident)
            return answer(
                503,
                Problem(detail=f"{config.queue_size} deployments are waiting: try again later"),
                {"Retry-After": "30"},
            )
        row = store.get(ident)
        assert row is not None
        response.headers["Location"] = f"/deployments/{ident}"
        return DeploymentStatus.of(row)

    @app.get(
        "/deployments/{deployment_id}",
        response_model=DeploymentStatus,
        summary="A deployment's status and progress",
        dependencies=[Depends(require_token)],
        responses={
            **AUTH_ERRORS,
            404: {"model": Problem, "description": "No such deployment."},
            **VALIDATION_ERROR,
        },
        tags=["deployments"],
    )
    def deployment(deployment_id: str) -> Any:
        row = store.get(deployment_id)
        if row is None:
            return answer(404, Problem(detail=f"no deployment {deployment_id!r}"))
        return DeploymentStatus.of(row)

    app.include_router(webhooks.router)
    return app


def _no_deployer(request: Any, progress: Any) -> dict[str, Any]:
    raise UserError("this app only describes the API")


def openapi_spec() -> dict[str, Any]:
    """The published spec (docs/openapi.json): the app's own, built around a throwaway store."""
    store = DeploymentStore(Path(":memory:"))
    try:
        return create_app(ApiConfig(token=None), store, _no_deployer).openapi()
    finally:
        store.close()
