"""The REST API through its ASGI app (starlette's TestClient: no socket, the lifespan runs)."""

from __future__ import annotations

import re
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest

from pipeline import __version__
from pipeline.config.settings import PlatformSettings
from pipeline.secret import Secret
from pipeline.server.app import ApiConfig, create_app
from pipeline.server.deployers import LOCAL_REFUSED, default_deployer
from pipeline.server.store import INTERRUPTED, DeploymentStore
from tests.helpers.api_client import Client  # the fixtures: tests/conftest.py

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2; httpx is what we have
    from fastapi.testclient import TestClient
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


def test_without_auth_no_token_is_needed_on_loopback_names(client: Client) -> None:
    c = client(token=None)
    for host in ("127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000"):
        answer = c.post("/deploy", json=PAYLOAD, headers={"Host": host})
        assert answer.status_code == 202, host


@pytest.mark.parametrize(
    "host",
    [
        "testserver",
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.evil.example",
        "localhost.",
        "localhost:8000@evil.example",
        "localhost:80:80",
        "[::1]evil",
        "127.0.0.2",
        "0.0.0.0",
        "",
    ],
)
def test_without_auth_other_host_names_are_refused(
    client: Client, store: DeploymentStore, host: str
) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends
    ``Host: evil.example``; without auth nothing is answered to it."""
    c = client(token=None)
    for answer in (
        c.post("/deploy", json=PAYLOAD, headers={"Host": host}),
        c.get("/healthz", headers={"Host": host}),
    ):
        assert answer.status_code == 421
        assert "without authentication" in answer.json()["detail"]
    assert store.recover().requeued == ()  # nothing was recorded


def test_with_auth_any_host_name_is_served(client: Client) -> None:
    answer = client().post("/deploy", json=PAYLOAD, headers={**AUTH, "Host": "api.example"})
    assert answer.status_code == 202


def test_without_auth_prod_is_refused(client: Client, store: DeploymentStore) -> None:
    answer = client(token=None).post(
        "/deploy", json={**PAYLOAD, "env": "prod"}, headers={"Host": "localhost"}
    )
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "env prod needs authentication: this server runs with --no-auth"
    )
    assert store.recover().requeued == ()


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


def test_only_the_model_and_is_k8s_are_required(client: Client) -> None:
    body = {"model_name": "m", "model_version": 1, "is_k8s": True}
    answer = client().post("/deploy", json=body, headers=AUTH)
    assert answer.status_code == 202
    assert answer.json()["request"] == {
        "project_name": None,
        "model_name": "m",
        "model_version": "1",
        "is_k8s": True,
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


def test_local_serving_is_refused_before_anything_is_queued(
    client: Client, store: DeploymentStore
) -> None:
    c = client(default_deployer(PlatformSettings(), {}))
    for body in ({**PAYLOAD, "is_k8s": False}, {"model_name": "m", "model_version": 1}):
        answer = c.post("/deploy", json=body, headers=AUTH)
        assert answer.status_code == 422
        assert answer.json()["detail"] == f"body.is_k8s: {LOCAL_REFUSED} (send is_k8s: true)"
    assert store.recover().requeued == ()


def test_the_default_deployer_refuses_local_serving_too() -> None:
    from pipeline.errors import UserError
    from pipeline.online.request import DeployRequest

    deploy = default_deployer(PlatformSettings(), {})
    with pytest.raises(UserError, match="local serving is only available from the CLI"):
        deploy(DeployRequest("m", "1"), lambda _: None)


class Registry:
    """A model check standing for the MLflow registry: model ``m`` has versions 1 and 2."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.asked: list[tuple[str, str]] = []

    def __call__(self, request: Any) -> None:
        from pipeline.errors import StepFailed, UserError

        self.asked.append((request.model_name, request.model_version))
        if self.down:
            raise StepFailed("looking up m failed at http://mlflow", hint="is it up?")
        if request.model_name != "m":
            raise UserError(f"no model named {request.model_name!r} is registered in x")
        if request.model_version not in ("1", "2"):
            raise UserError(
                f"no version {request.model_version} of model 'm' in the registry at x",
                hint="registered versions: 1, 2",
            )


def registry_client(store: DeploymentStore, check: Registry) -> TestClient:
    return TestClient(create_app(ApiConfig(Secret(TOKEN)), store, instant, check=check))


def test_an_unregistered_model_version_is_422_before_anything_is_queued(
    store: DeploymentStore,
) -> None:
    check = Registry()
    with registry_client(store, check) as c:
        body = {"model_name": "m", "model_version": 3, "is_k8s": True}
        answer = c.post("/deploy", json=body, headers=AUTH)
        assert answer.status_code == 422
        assert answer.json()["errors"] == [
            {
                "loc": ["body", "model_version"],
                "message": "no version 3 of model 'm' in the registry at x "
                "(registered versions: 1, 2)",
                "type": "value_error",
            }
        ]
        unknown = c.post("/deploy", json={**body, "model_name": "n"}, headers=AUTH)
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["loc"] == ["body", "model_name"]
        assert store.recover().requeued == ()
        good = c.post("/deploy", json={**body, "model_version": 2}, headers=AUTH)
        assert good.status_code == 202
    assert check.asked == [("m", "3"), ("n", "3"), ("m", "2")]


def test_an_unreachable_registry_is_503(store: DeploymentStore) -> None:
    with registry_client(store, Registry(down=True)) as c:
        answer = c.post("/deploy", json={**PAYLOAD, "model_name": "m"}, headers=AUTH)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json()["detail"] == "looking up m failed at http://mlflow (is it up?)"


def test_a_huge_field_is_not_echoed_back(client: Client) -> None:
    c = client()
    huge = "x" * 60_000
    for body in (
        {**PAYLOAD, "model_name": huge},
        {**PAYLOAD, "project_name": huge},
        {**PAYLOAD, huge: 1},
        {**PAYLOAD, "model_version": huge},
    ):
        answer = c.post("/deploy", json=body, headers=AUTH)
        assert answer.status_code == 422
        assert len(answer.content) < 2_000, answer.text[:200]
        assert "more)" in answer.text


def test_a_body_past_64_kib_is_413_even_with_a_token(
    client: Client, store: DeploymentStore
) -> None:
    c = client()
    big = {**PAYLOAD, "model_name": "x" * 70_000}
    for headers in (AUTH, {}):
        answer = c.post("/deploy", json=big, headers=headers)
        assert answer.status_code == 413
        assert answer.json() == {
            "detail": "the body is larger than this endpoint takes (64 KiB)",
            "errors": [],
        }
    assert store.recover().requeued == ()


def test_a_deeply_nested_body_is_a_client_error(client: Client) -> None:
    c = client()
    deep = b'{"model_name": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    answer = c.post("/deploy", content=deep, headers={**AUTH, "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["type"] == "json_invalid"


def test_what_the_server_lacks_is_said_for_an_api_client() -> None:
    """No `--dry-run` or "set GITHUB_TOKEN" hint: a REST client can do neither."""
    from pipeline.config.settings import GitHub
    from pipeline.errors import UserError
    from pipeline.online.request import DeployRequest

    request = DeployRequest("m", "1", use_k8s=True)
    no_repo = default_deployer(PlatformSettings(), {"GITHUB_TOKEN": "t"})
    with pytest.raises(UserError) as caught:
        no_repo(request, lambda _: None)
    assert caught.value.message.startswith("this server has no deploy repository")
    settings = PlatformSettings(github=GitHub(deploy_repo="acme/deploy"))
    with pytest.raises(UserError) as caught:
        default_deployer(settings, {})(request, lambda _: None)
    assert caught.value.message == (
        "this server has no GitHub token (GITHUB_TOKEN) to open the pull request with"
    )
    assert caught.value.hint == "ask the operator of somlier api to set it and restart the server"


def run_two_and_stop(store: DeploymentStore, drain_timeout: float) -> tuple[str, str]:
    """Queue two deployments behind a gate, then stop the server while the first one runs; the
    gate opens once the stop has begun."""
    import threading

    gated = Gated()
    config = ApiConfig(Secret(TOKEN), drain_timeout=drain_timeout)
    c = TestClient(create_app(config, store, gated))
    c.__enter__()
    first = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    second = c.post("/deploy", json=PAYLOAD, headers=AUTH).json()["id"]
    assert gated.entered.wait(30)
    opener = threading.Timer(0.2, gated.gate.set)
    opener.start()
    c.__exit__(None, None, None)
    opener.join()
    return first, second


def test_a_stop_finishes_the_queued_deployments_within_the_drain_timeout(
    store: DeploymentStore,
) -> None:
    first, second = run_two_and_stop(store, drain_timeout=60)
    statuses = [store.get(i).status for i in (first, second)]  # type: ignore[union-attr]
    assert statuses == ["succeeded", "succeeded"]


def test_what_the_drain_timeout_leaves_runs_at_the_next_start(store: DeploymentStore) -> None:
    first, second = run_two_and_stop(store, drain_timeout=0)
    assert store.get(second).status == "queued"  # type: ignore[union-attr]
    with TestClient(create_app(ApiConfig(Secret(TOKEN)), store, instant)) as c:
        assert finished(c, second)["status"] == "succeeded"
        assert finished(c, first)["status"] in FINISHED
