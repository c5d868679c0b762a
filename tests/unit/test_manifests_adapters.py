"""The adapters of a CLI run, built from the environment the CLI passes in (no I/O here)."""

from __future__ import annotations

from pipeline.cli.wiring import adapters_for
from pipeline.config.settings import GitHub, PlatformSettings
from pipeline.config.settings import Registry as RegistrySettings

TOKEN = "ghs_CANARY0123456789abcdefCANARY"
SETTINGS = PlatformSettings(
    registry=RegistrySettings(url="127.0.0.1:5000", image_prefix="ml/"),
    github=GitHub(deploy_repo="acme/deploy", token_env="DEPLOY_TOKEN"),
)


def test_the_token_comes_from_the_named_variable_and_is_never_shown() -> None:
    environ = {
        "DEPLOY_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://ghe.example.com",
        "PATH": "/usr/bin",
        "HOME": "/home/me",
    }
    adapters = adapters_for(SETTINGS, environ, dry_run=False)
    assert adapters.forge is not None
    assert adapters.token is not None and adapters.token.reveal() == TOKEN
    assert adapters.clone_url == "https://ghe.example.com/acme/deploy.git"
    assert adapters.registry is not None and adapters.registry.host == "127.0.0.1:5000"
    assert adapters.wheel_cache is not None and str(adapters.wheel_cache).startswith("/home/me/")
    assert TOKEN not in repr(adapters)


def test_without_a_token_there_is_no_pull_request_client() -> None:
    adapters = adapters_for(
        SETTINGS, {"SOMLIER_DEPLOY_CLONE_URL": "file:///srv/deploy.git"}, dry_run=True
    )
    assert adapters.forge is None and adapters.token is None
    assert adapters.clone_url == "file:///srv/deploy.git"


def test_without_a_deploy_repository_there_is_nothing_to_clone() -> None:
    adapters = adapters_for(PlatformSettings(), {"DEPLOY_TOKEN": TOKEN}, dry_run=True)
    assert adapters.clone_url is None and adapters.forge is None and adapters.registry is None
