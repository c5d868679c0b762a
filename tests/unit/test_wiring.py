"""The edge's wiring (pipeline.cli.wiring): every adapter is built from the settings and the
environment mapping in one place, the same way for the image step, the DAG publisher, the
comment handler, the REST API and a Kubernetes deploy. No network, no process: the adapters'
classes are replaced by recorders where building them would connect."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from pipeline.cli import wiring
from pipeline.config.settings import Builder, CloudBuild, GitHub, PlatformSettings
from pipeline.config.settings import Registry as RegistrySettings
from pipeline.forge import github
from pipeline.images import cloudbuild, engine

TOKEN = "ghs_CANARY0123456789abcdefCANARY"
SETTINGS = PlatformSettings(
    registry=RegistrySettings(url="127.0.0.1:5000", image_prefix="ml/"),
    github=GitHub(deploy_repo="acme/deploy", api_url="https://ghe.example.com/api/v3"),
)


class Recorder:
    """Stands in for an adapter class: keeps what it was built with."""

    made: ClassVar[list[Recorder]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        Recorder.made.append(self)

    def pulls(self) -> str:
        return f"pulls of {self.args[0]}"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Recorder]:
    Recorder.made = []
    monkeypatch.setattr(github, "GitHubRepo", Recorder)
    monkeypatch.setattr(engine, "DockerBuilder", Recorder)
    monkeypatch.setattr(cloudbuild, "CloudBuildBuilder", Recorder)
    return Recorder.made


def test_settings_at_finds_the_monorepo_around_a_folder(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".somlier").mkdir()
    (tmp_path / ".somlier" / "platform.yaml").write_text("builder: {parallelism: 3}\n")
    inside = tmp_path / "projects" / "iris"
    inside.mkdir(parents=True)
    settings, root = wiring.settings_at(inside, {"SOMLIER__REGISTRY__URL": "127.0.0.1:5000/ml"})
    assert root == tmp_path
    assert settings.builder.parallelism == 3
    assert settings.registry.url == "127.0.0.1:5000/ml"


def test_settings_at_outside_a_monorepo_gives_the_defaults(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert wiring.settings_at(tmp_path, {}) == (PlatformSettings(), None)


def test_no_token_no_github_client() -> None:
    assert wiring.forge_for(SETTINGS, {"GITHUB_API_URL": "https://api.example.com"}) is None


def test_the_github_client_takes_the_api_of_the_run_and_the_pace(
    recorded: list[Recorder],
) -> None:
    forges = wiring.forge_for(
        SETTINGS,
        {
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": "https://api.example.com",
            "SOMLIER_GITHUB_PACE": "0",
        },
    )
    assert forges is not None
    forges("acme/ml-projects")
    (made,) = recorded
    assert made.args[0] == "acme/ml-projects"
    assert made.args[1].reveal() == TOKEN
    assert made.kwargs == {"api_url": "https://api.example.com", "pace": False}


def test_without_a_run_the_github_client_uses_the_settings_api_and_keeps_the_pace(
    recorded: list[Recorder],
) -> None:
    forges = wiring.forge_for(SETTINGS, {"GITHUB_TOKEN": TOKEN})
    assert forges is not None
    forges("acme/ml-projects")
    assert recorded[0].kwargs == {"api_url": "https://ghe.example.com/api/v3", "pace": True}


def test_the_docker_builder_gets_the_engine_buildkit_and_the_registry(
    recorded: list[Recorder],
) -> None:
    registry = wiring.registry_for(SETTINGS, {})
    buildkit: Any = object()
    factory = wiring.builder_factory(
        SETTINGS, {"DOCKER_HOST": "unix:///run/d.sock"}, registry=registry, buildkit=buildkit
    )
    factory()
    factory()  # a new builder per call: one per worker
    first, second = recorded
    assert first.args == ("unix:///run/d.sock",)
    assert first.kwargs == {"buildkit": buildkit, "registry": registry}
    assert first is not second


def test_cloud_build_gets_its_settings_and_endpoints(recorded: list[Recorder]) -> None:
    cloud = CloudBuild(project="p", bucket="b")
    settings = PlatformSettings(builder=Builder(type="cloudbuild", cloudbuild=cloud))
    environ = {
        "SOMLIER_CLOUDBUILD_API_URL": "http://127.0.0.1:9/cb",
        "SOMLIER_GCS_API_URL": "http://127.0.0.1:9/gcs",
        "DOCKER_HOST": "unix:///ignored.sock",
    }
    wiring.builder_factory(settings, environ, registry=None, buildkit=None)()
    (made,) = recorded
    assert made.args == (cloud,)
    assert made.kwargs == {
        "api_endpoint": "http://127.0.0.1:9/cb",
        "storage_endpoint": "http://127.0.0.1:9/gcs",
    }


def test_the_serving_image_builder_is_the_engine_of_the_run(recorded: list[Recorder]) -> None:
    """A Kubernetes deploy builds its serving image (one tag, a Dockerfile without BuildKit
    syntax) with the classic builder of DOCKER_HOST, as it did before the wiring was shared."""
    adapters = wiring.adapters_for(SETTINGS, {"DOCKER_HOST": "tcp://127.0.0.1:2375"}, dry_run=False)
    assert adapters.builder_factory is not None
    adapters.builder_factory()
    (made,) = recorded
    assert made.args == ("tcp://127.0.0.1:2375",)
    assert made.kwargs == {"buildkit": None, "registry": None}


def test_the_deploy_adapters_share_the_github_client_and_keep_tokens_from_git(
    recorded: list[Recorder],
) -> None:
    environ = {
        "GITHUB_TOKEN": TOKEN,
        "SOMLIER__GITHUB__DEPLOY_REPO": "x/y",
        "PATH": "/usr/bin",
        "HOME": "/home/me",
    }
    adapters = wiring.adapters_for(SETTINGS, environ, dry_run=True)
    assert adapters.forge == "pulls of acme/deploy"  # type: ignore[comparison-overlap]
    assert recorded[0].kwargs == {"api_url": "https://ghe.example.com/api/v3", "pace": True}
    assert adapters.clone_url == "https://github.com/acme/deploy.git"
    assert dict(adapters.environ) == {"PATH": "/usr/bin", "HOME": "/home/me"}


def test_reports_go_to_the_run_and_the_pr(tmp_path: Path, recorded: list[Recorder]) -> None:
    environ = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_RUN_ID": "42",
        "GITHUB_REPOSITORY": "acme/ml-projects",
        "GITHUB_SERVER_URL": "https://ghe.example.com",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    reports = wiring.reports_for(SETTINGS, environ, "acme/ml-projects", to_github=True)
    assert reports.forge is recorded[0]  # type: ignore[comparison-overlap]
    assert recorded[0].args[0] == "acme/ml-projects"
    assert reports.run_url == "https://ghe.example.com/acme/ml-projects/actions/runs/42"
    assert reports.summary_path == tmp_path / "summary.md"
    assert reports.output_path == tmp_path / "output"
    assert getattr(reports.notifier, "channel", None) == "console"


def test_without_a_token_the_reports_say_what_is_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reports = wiring.reports_for(SETTINGS, {}, "acme/ml-projects", to_github=True)
    assert reports.forge is None and reports.run_url is None and reports.summary_path is None
    assert capsys.readouterr().err == (
        "warning: no GitHub token in GITHUB_TOKEN: statuses and the PR comment are skipped\n"
    )


def test_a_manual_build_reports_nowhere_on_github(capsys: pytest.CaptureFixture[str]) -> None:
    reports = wiring.reports_for(SETTINGS, {"GITHUB_TOKEN": TOKEN}, "acme/x", to_github=False)
    assert reports.forge is None
    assert capsys.readouterr().err == ""


def test_a_clone_url_follows_the_server_unless_overridden() -> None:
    environ = {"GITHUB_SERVER_URL": "https://ghe.example.com"}
    assert wiring.clone_url("acme/dags", environ, "SOMLIER_DAGS_CLONE_URL") == (
        "https://ghe.example.com/acme/dags.git"
    )
    environ["SOMLIER_DAGS_CLONE_URL"] = "file:///srv/dags.git"
    assert wiring.clone_url("acme/dags", environ, "SOMLIER_DAGS_CLONE_URL") == (
        "file:///srv/dags.git"
    )
