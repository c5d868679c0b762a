"""The image step's adapters, built from settings and the environment at the CLI edge: the
registry client (with credentials) and where reports go (GitHub, Slack or the console, the job
summary and step outputs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.steps.flow import Reports


def registry_for(settings: PlatformSettings, environ: Mapping[str, str]) -> Any:
    from pipeline.build.refs import ImageName
    from pipeline.build.registry import Credentials, Registry, docker_config_credentials
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


def reports_for(
    settings: PlatformSettings, environ: Mapping[str, str], repo: str | None, *, to_github: bool
) -> Reports:
    from pipeline.notify.slack import ConsoleNotifier, SlackNotifier
    from pipeline.secret import secret
    from pipeline.steps.flow import Reports

    def warn(text: str) -> None:
        click.echo(f"warning: {text}", err=True)

    slack_token = secret(settings.slack.token_env, environ)
    notifier: Any
    if slack_token is not None:
        notifier = SlackNotifier(
            slack_token,
            settings.slack.channel,
            warn=warn,
            base_url=environ.get("SOMLIER_SLACK_API_URL") or None,
        )
    else:
        notifier = ConsoleNotifier(lambda text: click.echo(text, err=True))
    forge = None
    token = secret(settings.github.token_env, environ)
    if to_github and repo and token is not None:
        from pipeline.forge.github import GitHubRepo

        api = environ.get("GITHUB_API_URL") or settings.github.api_url
        forge = GitHubRepo(
            repo, token, api_url=api, pace=environ.get("SOMLIER_GITHUB_PACE", "1") != "0"
        )
    elif to_github:
        warn(
            f"no GitHub token in {settings.github.token_env}: statuses and the PR comment "
            "are skipped"
        )
    run_url = None
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
    return Reports(
        forge=forge,
        notifier=notifier,
        summary_path=Path(environ["GITHUB_STEP_SUMMARY"])
        if environ.get("GITHUB_STEP_SUMMARY")
        else None,
        output_path=Path(environ["GITHUB_OUTPUT"]) if environ.get("GITHUB_OUTPUT") else None,
        run_url=run_url,
        api_calls=_github_calls if forge is not None else Reports.no_calls,
    )


def _github_calls() -> int:
    """GitHub API requests made by this process so far (PyGithub's requests are counted)."""
    from pipeline.forge.github import API_CALLS

    return API_CALLS.value
