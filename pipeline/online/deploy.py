"""``somlier online deploy`` as calls: the registry the model is read from (an unknown model or
version is refused before anything else), then the model served on this machine
(:func:`serve_locally`) or proposed on Kubernetes
(:func:`pipeline.online.kube_deploy.deploy_on_k8s`). Each returns a frozen result; the CLI
parses, calls and prints. MLflow and BentoML are imported only when a call needs them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.online.request import DeployRequest
    from pipeline.online.serve_local import LocalDeployment, Mode
    from pipeline.online.tracking import Tracking

Echo = Callable[[str], None]


def registered(
    request: DeployRequest, *, root: Path, settings_uri: str, env_uri: str | None
) -> Tracking:
    """The registry holding ``request``'s model version: ``env_uri`` (``MLFLOW_TRACKING_URI``)
    > ``settings_uri`` > ``root/.somlier/mlflow.db``. Before any plan, build or clone, an
    unknown model or version is refused (exit 2) with what the registry holds."""
    from pipeline.online import tracking
    from pipeline.online.registered import check_registered

    where = tracking.resolve(root=root, settings_uri=settings_uri, env_uri=env_uri)
    check_registered(request.model_name, request.model_version, tracking_uri=where.uri)
    return where


def ignored_locally(request: DeployRequest) -> list[str]:
    """The options of ``request`` that only apply on Kubernetes, when it is served locally."""
    given = (("--istio", request.istio), ("--gpu", request.gpu), ("--env", request.env != "dev"))
    return [] if request.use_k8s else [flag for flag, on in given if on]


@dataclass(frozen=True, kw_only=True)
class LocalOptions:
    """How to serve here: ``serve`` until Ctrl-C, ``once`` (one example request), or
    ``dry-run``; ``port`` 0 picks a free one; ``bundle_dir`` None: a temporary bundle."""

    mode: Mode = "serve"
    port: int = 3000
    workers: int | None = None  # None: one per CPU
    bundle_dir: Path | None = None
    timeout: float = 120.0  # seconds for the server to be ready


def serve_locally(
    request: DeployRequest,
    tracking_uri: str,
    options: LocalOptions,
    *,
    environ: Mapping[str, str],
    echo: Echo,
    server_echo: Echo | None = None,
) -> LocalDeployment:
    """Serve ``request``'s model with ``bentoml serve`` on 127.0.0.1 from a temporary working
    folder (removed on return). ``environ``: the server's environment (BentoML's usage tracking
    is turned off); ``echo``: the serving lines; ``server_echo``: the server's own output."""
    from pipeline.online.serve_local import deploy_locally

    with tempfile.TemporaryDirectory(prefix="somlier-serve-") as work:
        return deploy_locally(
            request.model_name,
            request.model_version,
            tracking_uri=tracking_uri,
            workdir=Path(work),
            bundle_dir=options.bundle_dir,
            port=options.port,
            workers=options.workers or "cpu_count",
            mode=options.mode,
            env={**environ, "BENTOML_DO_NOT_TRACK": "True"},
            echo=echo,
            server_echo=server_echo,
            ready_timeout=options.timeout,
        )
