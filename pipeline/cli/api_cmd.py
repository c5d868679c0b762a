"""``somlier api``: serve the REST API (and the GitHub webhook receiver) with uvicorn.

The edge: it reads the token from the environment variable the settings name, opens the
database, picks the deployer, binds the socket (so a busy port is a plain error) and hands the
app to uvicorn. FastAPI and uvicorn are imported only here, when the command runs.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.options import repo_option
from pipeline.cli.wiring import settings_at
from pipeline.errors import EXIT_OK, EXIT_STEP_FAILED, MissingDependency, UserError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pipeline.config.settings import PlatformSettings
    from pipeline.secret import Secret
    from pipeline.server.store import DeploymentStore
    from pipeline.server.webhooks import WebhookReceiver

MIN_TOKEN_LENGTH = 16


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one), or a UserError saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc}", hint="check --host") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port (0: any free port)",
        ) from exc
    return sock


def _require_server_packages() -> None:
    """FastAPI and uvicorn come with the ``api`` extra."""
    import importlib.util

    for module in ("fastapi", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(module, "api")


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the API's own ``somlier`` logger printed the same way."""
    from uvicorn.config import LOGGING_CONFIG

    config = json.loads(json.dumps(LOGGING_CONFIG))
    config["loggers"]["somlier"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    result: dict[str, Any] = config
    return result


def _token(settings: PlatformSettings, no_auth: bool, host: str) -> Secret | None:
    from pipeline.secret import secret

    variable = settings.api.token_env
    if no_auth:
        if not _is_loopback(host):
            raise UserError(
                f"--no-auth serves without authentication, so only on loopback, not on {host}",
                hint=f"set {variable} and drop --no-auth, or use --host 127.0.0.1",
            )
        click.echo("warning: --no-auth: anyone who can reach this port can deploy models", err=True)
        return None
    token = secret(variable, os.environ)
    if token is None:
        raise UserError(
            f"no API token: set {variable} (clients send it as 'Authorization: Bearer TOKEN')",
            hint="or pass --no-auth to run without authentication, on loopback only",
        )
    if len(token.reveal()) < MIN_TOKEN_LENGTH:
        click.echo(
            f"warning: the token in {variable} is shorter than {MIN_TOKEN_LENGTH} characters",
            err=True,
        )
    return token


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0: any free port (the address is printed at start).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="SQLite file recording deployments [default: api.database of the platform settings, "
    ".somlier/api.sqlite3 at the monorepo root or in the current folder].",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM or Ctrl-C, how long to keep running queued deployments and webhook "
    "deliveries before exiting; what is left runs at the next start.",
)
@click.option("--openapi", is_flag=True, help="Print the OpenAPI spec (JSON) and exit.")
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve without the bearer token (loopback only; for local use).",
)
@repo_option
def api(
    host: str,
    port: int,
    db: Path | None,
    drain_timeout: float,
    openapi: bool,
    no_auth: bool,
    repo: Path | None,
) -> int:
    """Serve the REST API and the GitHub webhook receiver.

    POST /deploy queues a deployment of a registered model version, GET /deployments/{id}
    reports its progress, GET /healthz answers probes, POST /webhooks/github takes GitHub's
    signed deliveries.

    Clients send 'Authorization: Bearer TOKEN', TOKEN being the value of SOMLIER_API_TOKEN
    (the variable named by api.token_env). Deployments are recorded in SQLite and survive a
    restart. Stop with Ctrl-C or SIGTERM: queued work is finished first (--drain-timeout).

    With --no-auth, only loopback Host values are answered (127.0.0.1, localhost, [::1]) and
    env prod is refused.
    """
    _require_server_packages()
    if openapi:
        from pipeline.server.app import openapi_spec

        click.echo(json.dumps(openapi_spec(), indent=2))
        return EXIT_OK

    start = (repo or Path.cwd()).resolve()
    settings, root = settings_at(start)
    token = _token(settings, no_auth, host)
    path = db if db is not None else (root or start) / settings.api.database

    from pipeline.server.store import DeploymentStore

    store = DeploymentStore(path)
    receiver = None
    try:
        receiver = webhook_receiver(root, settings, os.environ, path)
        _warn_about_webhooks(receiver, settings)
        app = _app(
            settings, root or start, store, receiver, token=token, drain_timeout=drain_timeout
        )
        return _serve(app, host, port, settings=settings, token=token, path=path)
    finally:
        if receiver is not None:
            receiver.close()
        store.close()


def _webhook_log(line: str) -> None:
    click.echo(f"webhook: {line}", err=True)


def webhook_receiver(
    root: Path | None,
    settings: PlatformSettings,
    environ: Mapping[str, str],
    database: Path,
) -> WebhookReceiver:
    """The receiver of ``POST /webhooks/github``, for
    ``create_app(state={"github_webhooks": receiver})``: the secret from the variable that
    ``github.webhook_secret_env`` names, deliveries in ``webhooks.sqlite3`` next to the API
    database (``database``), comments handled as in GitHub Actions; only deliveries about
    ``github.projects_repo`` are acted on."""
    from pipeline.cli.wiring.comment_actions import comment_handler
    from pipeline.secret import secret
    from pipeline.server.webhooks import receiver_for

    handler = comment_handler(root, settings, environ, log=_webhook_log)
    return receiver_for(
        secret(settings.github.webhook_secret_env, environ),
        database,
        handler,
        classify=handler.ignored,
        repository=settings.github.projects_repo,
    )


def _warn_about_webhooks(receiver: WebhookReceiver, settings: PlatformSettings) -> None:
    if receiver.secret is None:
        click.echo(
            f"warning: no webhook secret in {settings.github.webhook_secret_env}: "
            "POST /webhooks/github answers 503",
            err=True,
        )
    elif receiver.repository is None:
        click.echo(
            "warning: github.projects_repo is not set: POST /webhooks/github ignores "
            "every delivery",
            err=True,
        )


def _app(
    settings: PlatformSettings,
    root: Path,
    store: DeploymentStore,
    receiver: WebhookReceiver,
    *,
    token: Secret | None,
    drain_timeout: float,
) -> FastAPI:
    """The app: deployments through the deployer of the settings, checked against the model
    registry around ``root``; webhooks through ``receiver``."""
    from pipeline.cli.wiring import adapters_for
    from pipeline.online import tracking
    from pipeline.server.app import ApiConfig, create_app
    from pipeline.server.deployers import default_deployer, registry_check
    from pipeline.server.webhooks import STATE_KEY

    registry = tracking.resolve(
        root=root,
        settings_uri=settings.mlflow.tracking_uri,
        env_uri=os.environ.get("MLFLOW_TRACKING_URI"),
    )
    return create_app(
        ApiConfig(token=token, queue_size=settings.api.queue_size, drain_timeout=drain_timeout),
        store,
        default_deployer(
            settings,
            os.environ,
            tracking_uri=registry.uri,
            adapters=partial(adapters_for, settings, os.environ, dry_run=False),
        ),
        state={"settings": settings, STATE_KEY: receiver},
        check=registry_check(registry.uri),
    )


def _serve(
    app: FastAPI,
    host: str,
    port: int,
    *,
    settings: PlatformSettings,
    token: Secret | None,
    path: Path,
) -> int:
    """Serve ``app`` on host:port until Ctrl-C or SIGTERM."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, log_config=_log_config(), lifespan="on", server_header=False)
    )
    with _bind(host, port) as sock:
        bound = sock.getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        auth = f"bearer token from {settings.api.token_env}" if token else "none (--no-auth)"
        click.echo(
            f"somlier api: http://{shown}:{bound[1]} (database {path}; auth: {auth})",
            err=True,
        )
        server.run(sockets=[sock])
    if not server.started:
        click.echo("error: the API server did not start (see the log above)", err=True)
        return EXIT_STEP_FAILED
    return EXIT_OK
