"""The deployer ``somlier api`` runs: Kubernetes through the GitOps flow; local serving refused.

Local serving (``is_k8s: false``) is a long-running ``bentoml serve`` in the foreground of a
terminal: the API's single worker would be held by it for good, and the server would own a model
server nobody can stop through the API. So the API records a clear failure instead and points to
the CLI. The heavy modules are imported when a deployment runs, so the API starts without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.config.settings import PlatformSettings
from pipeline.errors import UserError
from pipeline.online.request import DeployRequest
from pipeline.server.worker import Deployer, Progress

if TYPE_CHECKING:
    from pipeline.online.kube_adapters import KubeAdapters

LOCAL_REFUSED = "local serving is only available from the CLI: use `somlier online deploy`"


def default_deployer(
    settings: PlatformSettings,
    environ: Mapping[str, str],
    *,
    tracking_uri: str | None = None,
    adapters: Callable[[], KubeAdapters] | None = None,
) -> Deployer:
    """``environ``: the process environment, read by the CLI (tokens, DOCKER_HOST, PATH...);
    ``tracking_uri``: the MLflow registry the models are read from (as :func:`registry_check`
    asks it); ``adapters``: builds the outside world of one deployment (the CLI passes
    :func:`pipeline.cli.wiring.adapters_for`); required once a deployment gets that far."""
    environ = dict(environ)

    def deploy(request: DeployRequest, progress: Progress) -> dict[str, Any]:
        if not request.use_k8s:
            raise UserError(
                LOCAL_REFUSED, hint="or send is_k8s: true to deploy on Kubernetes through a PR"
            )
        _server_can_deploy(settings, environ)
        from pipeline.online.kube_deploy import deploy_on_k8s

        done = deploy_on_k8s(
            request,
            settings=settings,
            dry_run=False,
            echo=progress,
            environ=environ,
            adapters=_built(adapters),
            tracking_uri=tracking_uri,
        )
        result: dict[str, Any] = done.to_json()
        return result

    return deploy


def _built(adapters: Callable[[], KubeAdapters] | None) -> KubeAdapters:
    if adapters is None:
        raise RuntimeError("default_deployer was given no adapters to deploy with")
    return adapters()


def registry_check(tracking_uri: str) -> Callable[[DeployRequest], None]:
    """The API's check before queueing: the model version is in the registry at
    ``tracking_uri`` (MLflow is imported at the first request, not at start)."""

    def check(request: DeployRequest) -> None:
        from pipeline.online.registered import check_registered

        check_registered(request.model_name, str(request.model_version), tracking_uri=tracking_uri)

    return check


def _server_can_deploy(settings: PlatformSettings, environ: Mapping[str, str]) -> None:
    """What the server itself lacks, said for an API client: the CLI's hints (``--dry-run``,
    set a variable) are for the operator, not something a request can do."""
    from pipeline.secret import secret

    operator = "ask the operator of somlier api to set it and restart the server"
    if not settings.github.deploy_repo:
        raise UserError(
            "this server has no deploy repository to open the pull request in (github.deploy_repo)",
            hint=operator,
        )
    if secret(settings.github.token_env, environ) is None:
        raise UserError(
            f"this server has no GitHub token ({settings.github.token_env}) to open the pull "
            "request with",
            hint=operator,
        )
