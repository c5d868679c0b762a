"""The one place the outside world is wired: platform settings, the GitHub client, the registry
client, the image builder, where reports go and the adapters of a Kubernetes deploy, built from
the settings and the environment mapping the face (CLI, REST API, comment handler) passes in.

This is the edge: the ``GITHUB_*``, ``SOMLIER_*`` (test and endpoint overrides), ``DOCKER_*``
variables and the tokens that the settings name are read here and nowhere below ``pipeline.cli``
and ``pipeline.server``; the features receive the values and adapters built here. Nothing is
imported at module level beyond the standard library, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.forge.github import GitHubRepo
    from pipeline.images.buildkit import BuildKitCli
    from pipeline.images.registry import Registry
    from pipeline.online.kube_adapters import KubeAdapters
    from pipeline.secret import Secret
    from pipeline.steps.flow import Reports
    from pipeline.steps.images import Builder

GITHUB = "https://github.com"


# -- settings ------------------------------------------------------------------------------


def settings_for(root: Path | None, environ: Mapping[str, str] | None = None) -> PlatformSettings:
    """The platform settings of the monorepo at ``root`` (None: the defaults), overridden by the
    ``SOMLIER__…`` variables of ``environ`` (default: the process environment)."""
    from pipeline.config.settings_load import load_settings

    return load_settings(root, os.environ if environ is None else environ)


def settings_at(
    start: Path, environ: Mapping[str, str] | None = None
) -> tuple[PlatformSettings, Path | None]:
    """(settings, root) of the monorepo around ``start``: ``root`` is the nearest folder up
    holding ``.somlier/platform.yaml`` inside the git work tree, None when there is none."""
    from pipeline.config.location import platform_root

    root = platform_root(start.resolve())
    return settings_for(root, environ), root


# -- GitHub --------------------------------------------------------------------------------


def github_token(settings: PlatformSettings, environ: Mapping[str, str]) -> Secret | None:
    """The token in the variable ``github.token_env`` names, or None when it is unset."""
    from pipeline.secret import secret

    return secret(settings.github.token_env, environ)


def github_server(environ: Mapping[str, str]) -> str:
    """The GitHub web server (``GITHUB_SERVER_URL`` on GitHub Enterprise)."""
    return environ.get("GITHUB_SERVER_URL") or GITHUB


def clone_url(repo: str, environ: Mapping[str, str], override: str) -> str:
    """The git URL of ``repo`` on the GitHub server; the variable ``override`` (a test's bare
    origin, a mirror) replaces it when set."""
    return environ.get(override) or f"{github_server(environ)}/{repo}.git"


def forge_for(
    settings: PlatformSettings, environ: Mapping[str, str]
) -> Callable[[str], GitHubRepo] | None:
    """A GitHub client per repository (``owner/name``), or None without a token. The API is
    ``GITHUB_API_URL`` (set in GitHub Actions, on GitHub Enterprise too) or ``github.api_url``;
    ``SOMLIER_GITHUB_PACE=0`` drops PyGithub's spacing of requests (tests against the fake)."""
    token = github_token(settings, environ)
    if token is None:
        return None
    api = environ.get("GITHUB_API_URL") or settings.github.api_url
    pace = environ.get("SOMLIER_GITHUB_PACE", "1") != "0"

    def make(repo: str) -> GitHubRepo:
        from pipeline.forge.github import GitHubRepo

        return GitHubRepo(repo, token, api_url=api, pace=pace)

    return make


def _github_calls() -> int:
    """GitHub API requests made by this process so far (PyGithub's requests are counted)."""
    from pipeline.forge.github import API_CALLS

    return API_CALLS.value


# -- images --------------------------------------------------------------------------------


def registry_for(settings: PlatformSettings, environ: Mapping[str, str]) -> Registry | None:
    """The client of ``registry.url`` with its credentials (the token ``registry.token_env``
    names, else the docker config in ``DOCKER_CONFIG``), or None without a registry."""
    from pipeline.images.refs import ImageName
    from pipeline.images.registry import Credentials, Registry, docker_config_credentials
    from pipeline.secret import secret

    host = ImageName.parse(settings.registry.url, "x").registry
    if not host:
        return None
    token = secret(settings.registry.token_env, environ)
    credentials = (
        Credentials("oauth2accesstoken", token.reveal())
        if token is not None
        else docker_config_credentials(
            host, Path(environ.get("DOCKER_CONFIG", "~/.docker")).expanduser()
        )
    )
    local = host.startswith(("127.", "localhost"))
    return Registry(host, insecure=settings.registry.insecure or local, credentials=credentials)


def buildkit_for(mode: str, environ: Mapping[str, str]) -> BuildKitCli | None:
    """The docker CLI that builds with BuildKit (``builder.buildkit``), said once in the log."""
    from pipeline.errors import UserError
    from pipeline.images import buildkit
    from pipeline.resources import cache_dir

    found = buildkit.find(environ, environ.get("DOCKER_HOST"), mode, cache=cache_dir(environ))
    if found is None and mode == "on":
        raise UserError(
            "builder.buildkit is on, but no docker CLI on PATH can build with BuildKit",
            hint="install docker buildx, or set builder.buildkit: auto",
        )
    if found is not None:
        click.echo(f"BuildKit: {found.executable} ({found.via})", err=True)
    elif mode == "auto":
        click.echo("BuildKit: no docker CLI on PATH can drive it; the classic builder", err=True)
    return found


def builder_factory(
    settings: PlatformSettings,
    environ: Mapping[str, str],
    *,
    registry: Registry | None,
    buildkit: BuildKitCli | None,
) -> Callable[[], Builder]:
    """New builders of the configured type (``builder.type``): Cloud Build (its endpoints
    overridable by ``SOMLIER_CLOUDBUILD_API_URL`` / ``SOMLIER_GCS_API_URL``), or the Docker
    engine at ``DOCKER_HOST`` with ``buildkit`` (see :func:`buildkit_for`; None: the classic
    builder) and ``registry`` (with BuildKit, the tags after the first are set there)."""
    factory: Callable[[], Any]
    if settings.builder.type == "cloudbuild":
        from pipeline.images.cloudbuild import CloudBuildBuilder

        factory = partial(
            CloudBuildBuilder,
            settings.builder.cloudbuild,
            api_endpoint=environ.get("SOMLIER_CLOUDBUILD_API_URL") or None,
            storage_endpoint=environ.get("SOMLIER_GCS_API_URL") or None,
        )
    else:
        from pipeline.images.engine import DockerBuilder

        factory = partial(
            DockerBuilder, environ.get("DOCKER_HOST"), buildkit=buildkit, registry=registry
        )
    return factory


# -- reports -------------------------------------------------------------------------------


def _warn(text: str) -> None:
    click.echo(f"warning: {text}", err=True)


def notifier_for(settings: PlatformSettings, environ: Mapping[str, str]) -> Any:
    """Slack with the token ``slack.token_env`` names (``SOMLIER_SLACK_API_URL``: another Web
    API, a test's fake), else the console (standard error)."""
    from pipeline.notify.slack import ConsoleNotifier, SlackNotifier
    from pipeline.secret import secret

    slack_token = secret(settings.slack.token_env, environ)
    if slack_token is not None:
        return SlackNotifier(
            slack_token,
            settings.slack.channel,
            warn=_warn,
            base_url=environ.get("SOMLIER_SLACK_API_URL") or None,
        )
    return ConsoleNotifier(lambda text: click.echo(text, err=True))


def reports_for(
    settings: PlatformSettings, environ: Mapping[str, str], repo: str | None, *, to_github: bool
) -> Reports:
    """Where the image step reports: statuses and the PR comment on ``repo`` (``to_github``,
    with a token), Slack or the console, the job summary (``GITHUB_STEP_SUMMARY``), the step
    outputs (``GITHUB_OUTPUT``) and the link to the run."""
    from pipeline.steps.flow import Reports

    forge = None
    forges = forge_for(settings, environ)
    if to_github and repo and forges is not None:
        forge = forges(repo)
    elif to_github:
        _warn(
            f"no GitHub token in {settings.github.token_env}: statuses and the PR comment "
            "are skipped"
        )
    run_url = None
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        server = github_server(environ)
        run_url = f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
    summary = environ.get("GITHUB_STEP_SUMMARY")
    output = environ.get("GITHUB_OUTPUT")
    return Reports(
        forge=forge,
        notifier=notifier_for(settings, environ),
        summary_path=Path(summary) if summary else None,
        output_path=Path(output) if output else None,
        run_url=run_url,
        api_calls=_github_calls if forge is not None else Reports.no_calls,
    )


# -- Kubernetes deploys --------------------------------------------------------------------


def adapters_for(
    settings: PlatformSettings, environ: Mapping[str, str], *, dry_run: bool
) -> KubeAdapters:
    """The adapters of a Kubernetes deploy: the registry (with credentials), the configured
    builder, the deploy repository's PRs with the token from ``github.token_env``, its clone URL
    (``SOMLIER_DEPLOY_CLONE_URL`` overrides it) and the environment git runs with (no
    ``SOMLIER__`` settings, no ``GITHUB_T…`` token). ``dry_run`` is accepted for the callers'
    symmetry: a dry run builds nothing, so the adapters are the same.

    The serving image is built by the classic builder (``buildkit=None``) and pushed with its
    one tag (no registry to retag in): its Dockerfile needs no BuildKit, and probing the docker
    CLIs for one would cost every deploy process starts, for a dry run too."""
    from pipeline import resources
    from pipeline.online.kube_adapters import KubeAdapters

    del dry_run
    repo = settings.github.deploy_repo
    forges = forge_for(settings, environ)
    return KubeAdapters(
        registry=registry_for(settings, environ),
        builder_factory=builder_factory(settings, environ, registry=None, buildkit=None),
        forge=forges(repo).pulls() if repo and forges is not None else None,
        token=github_token(settings, environ),
        clone_url=environ.get("SOMLIER_DEPLOY_CLONE_URL")
        or (clone_url(repo, environ, "SOMLIER_DEPLOY_CLONE_URL") if repo else None),
        environ={k: v for k, v in environ.items() if not k.startswith(("SOMLIER__", "GITHUB_T"))},
        wheel_cache=resources.cache_dir(environ) / "wheels",
    )
