"""The outside world of a Kubernetes deploy: the registry client, the image builder, the deploy
repository's pull requests and the token, built from the settings and the environment that the
CLI (or the REST API, or the comment handler) passes in. Nothing here reads ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import resources
from pipeline.config.settings import PlatformSettings
from pipeline.secret import Secret

if TYPE_CHECKING:
    from pipeline.build.registry import Registry
    from pipeline.publish import PullForge
    from pipeline.steps.images import Builder


@dataclass(frozen=True)
class KubeAdapters:
    """What talks to the outside, built at the edge (:func:`adapters_for`) or by a test."""

    registry: Registry | None = None
    builder_factory: Callable[[], Builder] | None = None
    forge: PullForge | None = field(default=None, repr=False)
    token: Secret | None = None
    clone_url: str | None = None  # the deploy repository for git; None: no repository
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # PATH etc. for git
    workdir: Path | None = None  # scratch space (None: the system's temporary folder)
    wheel_cache: Path | None = None  # None: under workdir, not kept


def adapters_for(
    settings: PlatformSettings, environ: Mapping[str, str], *, dry_run: bool
) -> KubeAdapters:
    """The adapters of a CLI run: the registry (with credentials), the configured builder,
    the deploy repository's PRs with the token from ``github.token_env``. ``environ`` is the
    process environment, passed in by the CLI."""
    from pipeline.cli.step_edge import registry_for
    from pipeline.secret import secret

    factory: Callable[[], Any]
    if settings.builder.type == "cloudbuild":
        from functools import partial

        from pipeline.build.cloudbuild import CloudBuildBuilder

        factory = partial(
            CloudBuildBuilder,
            settings.builder.cloudbuild,
            api_endpoint=environ.get("SOMLIER_CLOUDBUILD_API_URL") or None,
            storage_endpoint=environ.get("SOMLIER_GCS_API_URL") or None,
        )
    else:
        from pipeline.build.engine import DockerBuilder

        def factory() -> Any:
            return DockerBuilder(environ.get("DOCKER_HOST"))

    repo = settings.github.deploy_repo
    token = secret(settings.github.token_env, environ)
    forge = None
    if repo and token is not None:
        from pipeline.forge.github import GitHubRepo

        forge = GitHubRepo(
            repo,
            token,
            api_url=environ.get("GITHUB_API_URL") or settings.github.api_url,
            pace=environ.get("SOMLIER_GITHUB_PACE", "1") != "0",
        ).pulls()
    server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
    clone_url = environ.get("SOMLIER_DEPLOY_CLONE_URL") or (
        f"{server}/{repo}.git" if repo else None
    )
    return KubeAdapters(
        registry=registry_for(settings, environ),
        builder_factory=factory,
        forge=forge,
        token=token,
        clone_url=clone_url,
        environ={k: v for k, v in environ.items() if not k.startswith(("SOMLIER__", "GITHUB_T"))},
        wheel_cache=resources.cache_dir(environ) / "wheels",
    )
