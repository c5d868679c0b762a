"""The REST API through its ASGI app (starlette's TestClient: no socket, the lifespan runs)."""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import __version__
from pipeline.config.settings import PlatformSettings, Secret
from pipeline.server.app import ApiConfig, create_app
from pipeline.server.deployers import LOCAL_REFUSED, default_deployer
from pipeline.server.store import INTERRUPTED, DeploymentStore
from pipeline.server.worker import Deployer
from tests.helpers.api_fakes import (
    AUTH,
    FINISHED,
    PAYLOAD,
    TOKEN,
    Gated,
    crashing,
    failing,
    instant,
    wait_until,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2; httpx is what we have
    from fastapi.testclient import TestClient

Client = Callable[..., TestClient]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeploymentStore]:
    opened = DeploymentStore(tmp_path / "api.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def client(store: DeploymentStore) -> Iterator[Client]:
    """``client(deployer, token=TOKEN, queue_size=16)``: a TestClient with the lifespan running."""
    opened: list[TestClient] = []

    def make(deployer: Deployer = instant, *, token: str | None = TOKEN, queue_size: int = 16):
        config = ApiConfig(token=Secret(token) if token else None, queue_size=queue_size)
        test_client = TestClient(create_app(config, store, deployer))
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


def finished(c: TestClient, ident: str) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: c.get(f"/deployments/{ident}", headers=AUTH).json(),
        lambda d: d["status"] in FINISHED,
    )


def test_healthz_answers_without_a_token(client: Client) -> None:
    answer = client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": __version__, "waiting": 0}


def test_healthz_is_503_when_the_database_cannot_be_read(
    client: Client, store: DeploymentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = client()

    def broken() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "ping", broken)
    answer = c.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"detail": "the database cannot be read: disk I/O error", "errors": []}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["none", "wrong", "longer", "basic", "no-scheme"],
)
def test_a_missing_or_wrong_token_gets_401(client: Client, headers: dict[str, str]) -> None:
    c = client()
    for answer in (
        c.post("/deploy", json=PAYLOAD, headers=headers),
        c.post("/deploy", json={"model_name": 1}, headers=headers),
        c.post("/deploy", content=b"\xff{", headers=headers),
        c.get(f"/deployments/{'0' * 32}", headers=headers),
    ):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert "Authorization: Bearer TOKEN" in answer.json()["detail"]
        assert TOKEN not in answer.text


def test_a_refused_request_queues_nothing(client: Client, store: DeploymentStore) -> None:
    ran = Gated()
    c = client(ran)
    assert c.post("/deploy", json=PAYLOAD).status_code == 401
    assert c.post("/deploy", json={"model_name": "m"}, headers=AUTH).status_code == 422
    ident = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    ran.gate.set()
    finished(c, ident)
    assert len(ran.seen) == 1


def test_without_auth_no_token_is_needed(client: Client) -> None:
    answer = client(token=None).post("/deploy", json=PAYLOAD)
    assert answer.status_code == 202


def test_deploy_answers_202_and_the_deployment_succeeds(client: Client) -> None:
    c = client(instant)
    answer = c.post("/deploy", json={**PAYLOAD, "istio_enabled": True}, headers=AUTH)
    assert answer.status_code == 202
    body = answer.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert answer.headers["Location"] == f"/deployments/{body['id']}"
    assert body["status"] in ("queued", "running", "succeeded")
    assert body["request"] == {**PAYLOAD, "istio_enabled": True, "env": "dev"}

    done = finished(c, body["id"])
    assert done["status"] == "succeeded"
    assert [p["message"] for p in done["progress"]] == [
        "rendering manifests for churn-classifier v3",
        "opening the pull request",
    ]
    assert done["result"] == {"pr": 7, "model": "churn-classifier", "istio": True, "gpu": False}
    assert done["error"] is None
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]


def test_a_failing_deployment_reports_its_message(client: Client) -> None:
    c = client(failing)
    ident = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    done = finished(c, ident)
    assert done["status"] == "failed"
    assert done["error"] == "model 'churn-classifier' has no version 3 (hint: register it first)"
    assert [p["message"] for p in done["progress"]] == ["looking up the model version"]
    assert done["result"] is None


def test_a_crashing_deployer_fails_the_deployment_not_the_server(client: Client) -> None:
    c = client(crashing)
    ident = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    done = finished(c, ident)
    assert done["status"] == "failed"
    assert done["error"] == "internal error: RuntimeError: boom (details in the server log)"
    assert c.get("/healthz").status_code == 200


def test_progress_is_visible_while_running_and_others_wait(client: Client) -> None:
    slow = Gated()
    c = client(slow)
    first = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    assert slow.entered.wait(20)
    second = c.post("/deploy", json={**PAYLOAD, "model_version": 4}, headers=AUTH).json()["id"]

    running = c.get(f"/deployments/{first}", headers=AUTH).json()
    assert running["status"] == "running"
    assert [p["message"] for p in running["progress"]] == ["waiting for the gate"]
    assert running["finished_at"] is None
    assert c.get(f"/deployments/{second}", headers=AUTH).json()["status"] == "queued"
    assert c.get("/healthz").json()["waiting"] == 1

    slow.gate.set()
    assert finished(c, first)["status"] == "succeeded"
    assert finished(c, second)["status"] == "succeeded"
    assert [r.model_version for r in slow.seen] == ["3", "4"]


def test_a_full_queue_answers_503_and_records_nothing(
    client: Client, store: DeploymentStore
) -> None:
    slow = Gated()
    c = client(slow, queue_size=1)
    running = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    assert slow.entered.wait(20)
    waiting = c.post("/deploy", json=PAYLOAD, headers=AUTH)
    assert waiting.status_code == 202

    refused = c.post("/deploy", json=PAYLOAD, headers=AUTH)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"
    assert refused.json()["detail"] == "1 deployments are waiting: try again later"
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM deployments").fetchone() == (2,)

    slow.gate.set()
    assert finished(c, running)["status"] == "succeeded"
    assert finished(c, waiting.json()["id"])["status"] == "succeeded"
    assert len(slow.seen) == 2


@pytest.mark.parametrize("version", [3, "3"])
def test_the_version_may_be_a_number_or_a_string(client: Client, version: object) -> None:
    answer = client().post("/deploy", json={**PAYLOAD, "model_version": version}, headers=AUTH)
    assert answer.status_code == 202
    assert answer.json()["request"]["model_version"] == "3"


def test_only_the_model_is_required(client: Client) -> None:
    answer = client().post("/deploy", json={"model_name": "m", "model_version": 1}, headers=AUTH)
    assert answer.status_code == 202
    assert answer.json()["request"] == {
        "project_name": None,
        "model_name": "m",
        "model_version": "1",
        "is_k8s": False,
        "istio_enabled": False,
        "use_gpu": False,
        "env": "dev",
    }


MALFORMED = [
    ({}, "body.model_name: Field required; body.model_version: Field required"),
    (
        {**PAYLOAD, "model_name": "bad name"},
        "body.model_name: invalid model name 'bad name' "
        "(letters, digits, '.', '_' and '-', at most 63 characters)",
    ),
    (
        {**PAYLOAD, "model_name": "../../etc"},
        "body.model_name: invalid model name '../../etc' "
        "(letters, digits, '.', '_' and '-', at most 63 characters)",
    ),
    (
        {**PAYLOAD, "model_version": "latest"},
        "body.model_version: invalid model version 'latest' (a positive integer)",
    ),
    ({**PAYLOAD, "model_version": 0}, "body.model_version: invalid model version '0'"),
    (
        {**PAYLOAD, "model_version": True},
        "body.model_version: a version is a positive integer, as a number or a string",
    ),
    (
        {**PAYLOAD, "project_name": "Churn_Model"},
        "body.project_name: invalid project name 'Churn_Model': lower-case letters, digits "
        "and '-', at most 63 characters, starting and ending with a letter or digit",
    ),
    ({**PAYLOAD, "is_k8": True}, "body.is_k8: unknown field 'is_k8' (did you mean 'is_k8s'?)"),
    ({**PAYLOAD, "is_k8s": "maybe"}, "body.is_k8s: Input should be a valid boolean"),
    ({**PAYLOAD, "env": "staging"}, "body.env: Input should be 'dev' or 'prod'"),
    (["churn"], "body: send a JSON object (Content-Type: application/json)"),
]


@pytest.mark.parametrize(("body", "detail"), MALFORMED)
def test_a_malformed_body_gets_422_with_a_clear_message(
    client: Client, body: Any, detail: str
) -> None:
    answer = client().post("/deploy", json=body, headers=AUTH)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["detail"].startswith(detail)
    assert problem["errors"], problem
    assert all(e["loc"][0] == "body" for e in problem["errors"])


@pytest.mark.parametrize(
    ("content", "content_type", "detail"),
    [
        (b'{"model_name": ', "application/json", "body: the body is not valid JSON: "),
        (b"", "application/json", "body: send a JSON object"),
        (b'{"model_name": "\xff"}', "application/json", "body: the body is not valid JSON: "),
        (b"model_name=m", "text/plain", "body: send a JSON object"),
    ],
)
def test_a_body_that_is_not_json_gets_422(
    client: Client, content: bytes, content_type: str, detail: str
) -> None:
    answer = client().post(
        "/deploy", content=content, headers={**AUTH, "Content-Type": content_type}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)


def test_an_unknown_deployment_is_404(client: Client) -> None:
    answer = client().get("/deployments/nope", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no deployment 'nope'", "errors": []}


def test_an_unknown_path_answers_a_problem_too(client: Client) -> None:
    answer = client().get("/deploy", headers=AUTH)
    assert answer.status_code == 405
    assert answer.json() == {"detail": "Method Not Allowed", "errors": []}


def test_deployments_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "api.sqlite3"
    first = DeploymentStore(path)
    with TestClient(create_app(ApiConfig(Secret(TOKEN)), first, instant)) as c:
        ident = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
        before = finished(c, ident)
    first.close()

    second = DeploymentStore(path)
    with TestClient(create_app(ApiConfig(Secret(TOKEN)), second, failing)) as c:
        assert c.get(f"/deployments/{ident}", headers=AUTH).json() == before
    second.close()


def test_a_restart_fails_what_was_running_and_runs_what_was_queued(tmp_path: Path) -> None:
    path = tmp_path / "api.sqlite3"
    crashed = DeploymentStore(path)
    request = {"model_name": "m", "model_version": "1"}
    running = crashed.create({**request, "use_k8s": True})
    crashed.start(running)
    crashed.add_progress(running, "opening the pull request")
    queued = crashed.create({**request, "model_version": "2"})
    crashed.close()  # as if the process died here

    restarted = DeploymentStore(path)
    with TestClient(create_app(ApiConfig(Secret(TOKEN)), restarted, instant)) as c:
        interrupted = c.get(f"/deployments/{running}", headers=AUTH).json()
        assert interrupted["status"] == "failed"
        assert interrupted["error"] == INTERRUPTED
        assert [p["message"] for p in interrupted["progress"]] == ["opening the pull request"]
        rerun = finished(c, queued)
        assert rerun["status"] == "succeeded"
        assert rerun["result"]["model"] == "m"
    restarted.close()


def test_the_default_deployer_refuses_local_serving(client: Client) -> None:
    c = client(default_deployer(PlatformSettings(), {}))
    ident = c.post("/deploy", json={**PAYLOAD, "is_k8s": False}, headers=AUTH).json()["id"]
    done = finished(c, ident)
    assert done["status"] == "failed"
    assert done["error"].startswith(LOCAL_REFUSED)
