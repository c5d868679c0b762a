"""The REST API through a real uvicorn on loopback: in a thread with fake deployers (lifecycle,
schemathesis against the published spec), and as ``somlier api`` in a child process (the CLI
edge: token, restart, signals, a busy port, start-up imports)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.online.kube_deploy import deploy_on_k8s
from pipeline.online.request import DeployRequest
from pipeline.secret import Secret
from pipeline.server.app import ApiConfig, create_app
from pipeline.server.deployers import LOCAL_REFUSED
from pipeline.server.store import DeploymentStore
from pipeline.server.webhooks import STATE_KEY, DeliveryStore, WebhookReceiver, signature
from pipeline.server.worker import Deployer
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.helpers import kube_deploy as kube
from tests.helpers.api_child import WEBHOOK_SECRET, start_api
from tests.helpers.api_fakes import AUTH, FINISHED, PAYLOAD, TOKEN, Gated, instant, wait_until
from tests.helpers.git import GitRepo, MakeRepo
from tests.integration.models import RegisteredModel

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "openapi.json"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


class ThreadServer:
    """``create_app(...)`` served by uvicorn on 127.0.0.1, a free port, in a thread; with a
    webhook receiver when ``webhooks`` is given."""

    def __init__(
        self,
        store: DeploymentStore,
        deployer: Deployer,
        webhooks: WebhookReceiver | None = None,
        **config: Any,
    ) -> None:
        state = {STATE_KEY: webhooks} if webhooks is not None else {}
        app = create_app(ApiConfig(token=Secret(TOKEN), **config), store, deployer, state=state)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: {"started": self.server.started}, lambda d: d["started"])
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    folder = tmp_path_factory.mktemp("api")
    store = DeploymentStore(folder / "api.sqlite3")
    receiver = WebhookReceiver(
        Secret(WEBHOOK_SECRET), DeliveryStore(folder / "webhooks.sqlite3"), lambda e, p: None
    )
    with ThreadServer(store, instant, receiver, queue_size=1000) as server:
        yield server
    receiver.close()
    store.close()


def status_of(url: str, ident: str) -> dict[str, Any]:
    return httpx.get(f"{url}/deployments/{ident}", headers=AUTH, timeout=30).json()  # type: ignore[no-any-return]


def test_a_deployment_over_http(served: ThreadServer) -> None:
    answer = httpx.post(f"{served.url}/deploy", json=PAYLOAD, headers=AUTH, timeout=30)
    assert answer.status_code == 202
    location = answer.headers["Location"]
    done = wait_until(
        lambda: httpx.get(served.url + location, headers=AUTH, timeout=30).json(),
        lambda d: d["status"] in FINISHED,
    )
    assert done["status"] == "succeeded"
    assert done["result"]["pr"] == 7
    assert len(done["progress"]) == 2


def test_progress_of_a_slow_deployment_over_http(tmp_path: Path) -> None:
    slow = Gated()
    store = DeploymentStore(tmp_path / "api.sqlite3")
    with ThreadServer(store, slow) as server:
        ident = httpx.post(f"{server.url}/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
        assert slow.entered.wait(30)
        running = status_of(server.url, ident)
        assert running["status"] == "running"
        assert [p["message"] for p in running["progress"]] == ["waiting for the gate"]
        slow.gate.set()
        done = wait_until(lambda: status_of(server.url, ident), lambda d: d["status"] in FINISHED)
        assert [p["message"] for p in done["progress"]] == [
            "waiting for the gate",
            "through the gate",
        ]
    store.close()


published = schemathesis.openapi.from_path(SPEC)


@published.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_published_spec_holds_with_a_token(case: Any, served: ThreadServer) -> None:
    case.call_and_validate(base_url=served.url, headers=AUTH, checks=CHECKS)


@published.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_published_spec_holds_without_a_token(case: Any, served: ThreadServer) -> None:
    response = case.call_and_validate(base_url=served.url, checks=CHECKS)
    if case.path != "/healthz" and case.method.upper() == case.operation.method.upper():
        assert response.status_code == 401


@pytest.fixture
def deploy_origin(make_repo: MakeRepo) -> GitRepo:
    """A bare deploy repository with one commit on main."""
    bare = make_repo("deploy.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# deploy\n"})
    seed.git("push", "-q", f"file://{bare.path}", "main")
    return bare


def test_a_kubernetes_deployment_through_the_api(
    docker_host: str,
    busybox_image: str,
    registry: str,
    deploy_origin: GitRepo,
    fake_github: FakeGitHub,
    tmp_path: Path,
) -> None:
    """The real deploy_on_k8s behind the API: a registry that has the serving image, a bare
    deploy repository, the fake GitHub; the answer carries the PR, the progress its steps."""
    fake_github.add_repo(kube.REPO)
    prefix = f"h4-{uuid.uuid4().hex[:8]}-"
    kube.publish_serving_tag(docker_host, busybox_image, registry, prefix, "iris-v1")
    settings = kube.settings_for(registry, prefix)
    adapters = kube.adapters_for(registry, deploy_origin, fake_github, tmp_path)

    def deployer(request: DeployRequest, progress: Any) -> dict[str, Any]:
        done = deploy_on_k8s(
            request, settings=settings, dry_run=False, echo=progress, adapters=adapters
        )
        return done.to_json()

    store = DeploymentStore(tmp_path / "api.sqlite3")
    with ThreadServer(store, deployer) as server:
        body = {"model_name": "iris", "model_version": 1, "is_k8s": True, "istio_enabled": True}
        ident = httpx.post(f"{server.url}/deploy", json=body, headers=AUTH).json()["id"]
        done = wait_until(lambda: status_of(server.url, ident), lambda d: d["status"] in FINISHED)
    store.close()

    assert done["status"] == "succeeded", done["error"]
    [pr] = fake_github.pulls(kube.REPO)
    assert done["result"]["pull_request"]["pull_number"] == pr.number
    assert done["result"]["image_status"] == "exists"
    assert {m["kind"] for m in done["result"]["manifests"]} >= {"Deployment", "VirtualService"}
    assert done["progress"], "the deployment's steps are reported"
    assert kube.CANARY not in json.dumps(done)


# ---- somlier api, a child process ---------------------------------------------------------


def test_somlier_api_serves_keeps_deployments_across_a_restart_and_never_prints_the_token(
    tmp_path: Path, registered_model: RegisteredModel
) -> None:
    registry = {"MLFLOW_TRACKING_URI": registered_model.tracking_uri}
    first = start_api(tmp_path, env_extra=registry)
    assert next(x for x in first.lines if x.startswith("somlier api:")).rstrip() == (
        f"somlier api: {first.url} (database {tmp_path / '.somlier' / 'api.sqlite3'}; "
        "auth: bearer token from SOMLIER_API_TOKEN)"
    )
    assert httpx.post(f"{first.url}/deploy", json=PAYLOAD).status_code == 401
    local = {**PAYLOAD, "is_k8s": False}
    refused = httpx.post(f"{first.url}/deploy", json=local, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"body.is_k8s: {LOCAL_REFUSED} (send is_k8s: true)"
    # registered, but the server has no deploy repository: accepted, then fails
    iris = {"model_name": registered_model.model_name, "model_version": 1, "is_k8s": True}
    ident = httpx.post(f"{first.url}/deploy", json=iris, headers=AUTH, timeout=120).json()["id"]
    before = wait_until(lambda: status_of(first.url, ident), lambda d: d["status"] in FINISHED)
    assert before["status"] == "failed"
    assert before["error"] == (
        "this server has no deploy repository to open the pull request in (github.deploy_repo) "
        "(hint: ask the operator of somlier api to set it and restart the server)"
    )
    ping = b'{"zen": "Keep it logically awesome."}'
    pong = httpx.post(
        f"{first.url}/webhooks/github",
        content=ping,
        headers={
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": signature(Secret(WEBHOOK_SECRET), ping),
        },
    )
    assert (pong.status_code, pong.json()["detail"]) == (200, "pong")
    assert first.stop() == 130
    assert "Application shutdown complete." in first.log

    second = start_api(tmp_path)
    assert status_of(second.url, ident) == before
    assert second.stop() == 130
    assert TOKEN not in first.log + second.log
    assert WEBHOOK_SECRET not in first.log + second.log
    assert f"deployment {ident}: failed: this server has no deploy repository" in first.log


def test_no_auth_serves_without_a_token(tmp_path: Path, registered_model: RegisteredModel) -> None:
    child = start_api(
        tmp_path,
        "--no-auth",
        "--db",
        str(tmp_path / "x.db"),
        token=None,
        env_extra={"MLFLOW_TRACKING_URI": registered_model.tracking_uri},
    )
    try:
        assert "warning: --no-auth: anyone who can reach this port can deploy models" in child.log
        iris = {"model_name": registered_model.model_name, "model_version": 1, "is_k8s": True}
        answer = httpx.post(f"{child.url}/deploy", json=iris, timeout=120)
        assert answer.status_code == 202
        db = str(tmp_path / "x.db")
        second = subprocess.run(
            [sys.executable, "-m", "pipeline", "api", "--no-auth", "--port", "0", "--db", db],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert second.stderr.splitlines()[-2:] == [
            f"error: {tmp_path / 'x.db'} is in use by another somlier api (pid {child.proc.pid})",
            "hint: stop that one first, or pass another --db PATH",
        ]
    finally:
        child.stop()


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "api", "-C", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            env={
                **{k: v for k, v in os.environ.items() if k != "SOMLIER_WEBHOOK_SECRET"},
                "SOMLIER_API_TOKEN": TOKEN,
            },
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "warning: no webhook secret in SOMLIER_WEBHOOK_SECRET: POST /webhooks/github answers 503",
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use",
        "hint: pick another --port (0: any free port)",
    ]


def test_the_api_command_starts_without_heavy_imports() -> None:
    code = textwrap.dedent("""
        import sys
        from pipeline.cli.main import main
        code = main(["api", "--help"])
        heavy = ("fastapi", "uvicorn", "starlette", "pydantic", "mlflow", "bentoml", "kubernetes")
        print(code, sorted(m for m in sys.modules if m.split(".")[0] in heavy))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_the_server_starts_without_mlflow_bentoml_or_clients(tmp_path: Path) -> None:
    """What ``somlier api`` builds before serving imports no heavy or optional package: a
    deployment imports those when it runs."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from pipeline.cli.api_cmd import webhook_receiver
        from pipeline.config.settings_load import load_settings
        from pipeline.server.app import ApiConfig, create_app
        from pipeline.server.deployers import default_deployer
        from pipeline.server.store import DeploymentStore
        settings = load_settings(None, {{}})
        db = Path({str(tmp_path / "api.sqlite3")!r})
        receiver = webhook_receiver(None, settings, {{}}, db)
        create_app(ApiConfig(None), DeploymentStore(db), default_deployer(settings, {{}}))
        heavy = ("mlflow", "bentoml", "kubernetes", "docker", "github", "githubkit", "slack_sdk")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_openapi_command_needs_no_token_and_writes_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "api", "--openapi"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "SOMLIER_API_TOKEN"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(SPEC.read_text(encoding="utf-8"))
    assert list(tmp_path.iterdir()) == []
