"""``somlier online deploy MODEL_NAME MODEL_VERSION``: serve a registered MLflow model.

Without ``--use_k8s`` (the embedded default) the model is served on this machine by
``bentoml serve`` (:mod:`pipeline.online.serve_local`); with it, the Kubernetes manifests are
rendered and proposed (:mod:`pipeline.online.kube_deploy`). The edge: the environment and the
platform settings are read here and nowhere below.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.options import json_option, repo_option
from pipeline.cli.wiring import settings_at
from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.deploy import LocalOptions
    from pipeline.online.request import DeployRequest, Environment

DEFAULT_PORT = (
    3000  # BentoML's; pipeline.online.serve_local.DEFAULT_PORT (not imported: fast --help)
)


@click.command()
@click.argument("model_name")
@click.argument("model_version")
@click.option(
    "--use_k8s",
    "--use-k8s",
    "use_k8s",
    is_flag=True,
    help="Deploy on Kubernetes through a GitOps PR instead of serving on this machine.",
)
@click.option("--istio", is_flag=True, help="With --use_k8s: route through Istio.")
@click.option("--gpu", is_flag=True, help="With --use_k8s: schedule on a GPU node.")
@click.option(
    "--env",
    "environment",
    type=click.Choice(["dev", "prod"]),
    default="dev",
    show_default=True,
    help="With --use_k8s: the target environment.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Local port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="BentoML worker processes [default: one per CPU].",
)
@click.option(
    "--once",
    is_flag=True,
    help="Start the server, send the example request, print the answer, stop (smoke test).",
)
@click.option(
    "--bundle-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write the generated service (service.py, model/, bentofile.yaml) to DIR and keep it "
    "[default: a temporary folder, removed on exit].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the server to be ready.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Resolve the model and write the service, print how it would be served; start nothing.",
)
@json_option
@repo_option
def deploy(
    model_name: str,
    model_version: str,
    use_k8s: bool,
    istio: bool,
    gpu: bool,
    environment: str,
    port: int,
    workers: int | None,
    once: bool,
    bundle_dir: Path | None,
    timeout: float,
    dry_run: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Serve version MODEL_VERSION of the registered model MODEL_NAME.

    Locally (the default) the model is served by BentoML on http://127.0.0.1:PORT/predict until
    Ctrl-C; the URL and an example request (from the model's input example or signature) are
    printed once it is ready. The model registry is MLFLOW_TRACKING_URI, else the platform
    settings' mlflow.tracking_uri, else .somlier/mlflow.db.

    \b
    Examples:
      somlier online deploy iris-classifier 1
      somlier online deploy iris-classifier 1 --once --port 0
      somlier online deploy iris-classifier 1 --use_k8s --istio --env prod --dry-run
    """
    from pipeline.online import deploy as online_deploy
    from pipeline.online.request import DeployRequest

    env: Environment = "prod" if environment == "prod" else "dev"
    request = DeployRequest(
        model_name, model_version, use_k8s=use_k8s, istio=istio, gpu=gpu, env=env
    )
    if once and dry_run:
        raise UserError("--once and --dry-run exclude each other", hint="pick one")
    start = (repo or Path.cwd()).resolve()
    if bundle_dir is not None and not bundle_dir.is_absolute():
        bundle_dir = start / bundle_dir  # like every relative path under -C
    settings, found = settings_at(start)
    root = found or start
    where = online_deploy.registered(
        request,
        root=root,
        settings_uri=settings.mlflow.tracking_uri,
        env_uri=os.environ.get("MLFLOW_TRACKING_URI"),
    )
    if use_k8s:
        return _deploy_on_k8s(request, settings, where.uri, dry_run=dry_run, as_json=as_json)
    for flag in online_deploy.ignored_locally(request):
        click.echo(f"warning: {flag} applies only with --use_k8s; ignored", err=True)
    options = online_deploy.LocalOptions(
        mode="dry-run" if dry_run else "once" if once else "serve",
        port=port,
        workers=workers,
        bundle_dir=bundle_dir,
        timeout=timeout,
    )
    return _local(request, where.uri, options, as_json=as_json)


def _local(
    request: DeployRequest, tracking_uri: str, options: LocalOptions, *, as_json: bool
) -> int:
    from pipeline.cli.wiring.display import progress_for
    from pipeline.online.deploy import serve_locally

    def err(line: str) -> None:
        click.echo(line, err=True)

    # --once is bounded (download, bundle, start, one request): shown as one step on a terminal.
    progress = progress_for(as_json or options.mode != "once")
    with progress.step(f"{request.model_name} version {request.model_version}: serving once"):
        result = serve_locally(
            request,
            tracking_uri,
            options,
            environ=os.environ,
            echo=err if as_json else click.echo,
            server_echo=err if options.mode == "serve" else None,
        )
    if as_json:
        click.echo(json.dumps(result.to_json(), sort_keys=True))
    elif options.mode == "dry-run":
        for line in result.lines():
            click.echo(line)
        if options.bundle_dir is None:
            err("note: the bundle is temporary and removed on exit; keep it with --bundle-dir DIR")
    elif options.mode == "once":
        for line in result.answered():
            click.echo(line)
    return result.exit_code


def _deploy_on_k8s(
    request: DeployRequest,
    settings: PlatformSettings,
    tracking_uri: str,
    *,
    dry_run: bool,
    as_json: bool,
) -> int:
    from pipeline.cli.wiring import adapters_for
    from pipeline.online.kube_deploy import deploy_on_k8s

    def echo(line: str) -> None:
        click.echo(line, err=as_json)

    from pipeline.cli.wiring.display import progress_for

    title = f"{request.model_name} version {request.model_version}: serving image and manifests"
    with progress_for(as_json or dry_run).step(title):
        result: Any = deploy_on_k8s(
            request,
            settings=settings,
            dry_run=dry_run,
            echo=echo,
            environ=os.environ,
            adapters=adapters_for(settings, os.environ, dry_run=dry_run),
            tracking_uri=tracking_uri,
        )
    if as_json:
        click.echo(json.dumps(result.to_json(), sort_keys=True))
    else:
        for line in result.lines():
            click.echo(line)
    return 0
