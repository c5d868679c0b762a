"""Attacks on ``somlier api``, run as a child process on loopback (the real uvicorn, the real
MLflow registry, the fake GitHub): DNS rebinding without auth, huge bodies, unknown models,
and stops (SIGTERM, SIGKILL) in the middle of webhook work."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.secret import Secret
from pipeline.server.deliveries import DeliveryStore
from pipeline.server.webhooks import signature
from tests.fakes.chatops import REPO, comment_payload
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.helpers.api_child import WEBHOOK_SECRET, Child, start_api
from tests.helpers.api_fakes import AUTH, wait_until
from tests.integration.models import RegisteredModel

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
WAIT = 120  # seconds before a request counts as hung (the first one imports MLflow)


# ---- DNS rebinding and prod without auth ----------------------------------------------------


def test_without_auth_only_loopback_host_names_are_answered(
    tmp_path: Path, registered_model: RegisteredModel
) -> None:
    """A page of evil.example, its name rebound to 127.0.0.1, posts from the developer's
    browser: the request reaches the port but carries ``Host: evil.example``."""
    child = start_api(
        tmp_path,
        "--no-auth",
        token=None,
        env_extra={"MLFLOW_TRACKING_URI": registered_model.tracking_uri},
    )
    port = urllib.parse.urlsplit(child.url).port
    iris = {"model_name": registered_model.model_name, "model_version": 1, "is_k8s": True}
    try:
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}", ""):
            answer = httpx.post(
                f"{child.url}/deploy", json=iris, headers={"Host": host}, timeout=WAIT
            )
            assert answer.status_code == 421, host
            assert "without authentication this server answers only" in answer.json()["detail"]
        assert httpx.get(f"{child.url}/healthz", timeout=WAIT).json()["waiting"] == 0
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
            answer = httpx.post(
                f"{child.url}/deploy", json=iris, headers={"Host": host}, timeout=WAIT
            )
            assert answer.status_code == 202, host
        prod = httpx.post(f"{child.url}/deploy", json={**iris, "env": "prod"}, timeout=WAIT)
        assert prod.status_code == 403
        assert prod.json()["detail"] == (
            "env prod needs authentication: this server runs with --no-auth"
        )
    finally:
        child.stop()


# ---- unknown models, refused before anything is queued --------------------------------------


def test_an_unknown_model_or_version_is_422_with_what_is_registered(
    tmp_path: Path, registered_model: RegisteredModel
) -> None:
    child = start_api(tmp_path, env_extra={"MLFLOW_TRACKING_URI": registered_model.tracking_uri})
    name = registered_model.model_name
    try:
        version = httpx.post(
            f"{child.url}/deploy",
            json={"model_name": name, "model_version": 7, "is_k8s": True},
            headers=AUTH,
            timeout=WAIT,
        )
        assert version.status_code == 422
        assert version.json()["errors"][0]["loc"] == ["body", "model_version"]
        assert version.json()["errors"][0]["message"].endswith("(registered versions: 1)")
        model = httpx.post(
            f"{child.url}/deploy",
            json={"model_name": "iris-clasifier", "model_version": 1, "is_k8s": True},
            headers=AUTH,
            timeout=WAIT,
        )
        assert model.status_code == 422
        message = model.json()["errors"][0]["message"]
        assert message.startswith("no model named 'iris-clasifier' is registered in sqlite:///")
        assert f"close names: {name}" in message
        assert "GITHUB_TOKEN" not in model.text and "--dry-run" not in model.text
        assert httpx.get(f"{child.url}/healthz", timeout=WAIT).json()["waiting"] == 0
    finally:
        child.stop()
    assert "deployment " not in child.log  # nothing was queued or run


# ---- bodies larger than an endpoint takes ---------------------------------------------------


def peak_memory(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def stream(
    url: str, path: str, *, total: int, chunked: bool, headers: dict[str, str] | None = None
) -> tuple[int, int, dict[str, Any]]:
    """POST ``total`` bytes in 1 MiB pieces over a raw socket, stopping as soon as the server
    answers; (status, bytes sent, JSON answer)."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n{extra}\r\n".encode()
    )
    piece = b"[" * MIB
    sent = 0
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            sock.sendall(data)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass  # the server closed the connection: its answer is waiting
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, sent, json.loads(body)


@pytest.fixture(scope="module")
def api_child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    child = start_api(tmp_path_factory.mktemp("api-limits"))
    yield child
    child.stop()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_webhook_body_is_refused_while_it_is_read(api_child: Child, chunked: bool) -> None:
    """Unauthenticated: nothing but its size is looked at, and only 25 MB of it at most is
    read (with Content-Length: none), however much the client means to send."""
    before = peak_memory(api_child.proc.pid)
    status, sent, body = stream(
        api_child.url,
        "/webhooks/github",
        total=1024 * MIB,
        chunked=chunked,
        headers={"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": str(uuid.uuid4())},
    )
    assert status == 413
    assert body == {"detail": "the body is larger than this endpoint takes (25 MiB)", "errors": []}
    assert sent < 128 * MIB, "the server answered only after most of the body was sent"
    if not chunked:
        assert sent < 25 * MIB  # refused on the header, before the body was read
    assert peak_memory(api_child.proc.pid) - before < 100 * MIB
    assert httpx.get(f"{api_child.url}/healthz", timeout=WAIT).status_code == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_deploy_body_past_64_kib_is_413_before_the_token_is_checked(
    api_child: Child, chunked: bool
) -> None:
    for headers in ({}, AUTH):
        status, sent, body = stream(
            api_child.url, "/deploy", total=256 * MIB, chunked=chunked, headers=headers
        )
        assert status == 413
        assert body == {
            "detail": "the body is larger than this endpoint takes (64 KiB)",
            "errors": [],
        }
        assert sent < 128 * MIB
    assert httpx.get(f"{api_child.url}/healthz", timeout=WAIT).json()["waiting"] == 0


def test_a_20_mb_model_name_is_not_echoed_back(api_child: Child) -> None:
    body = {"model_name": "m" * 20_000_000, "model_version": 1, "is_k8s": True}
    for headers in ({}, AUTH):
        answer = httpx.post(f"{api_child.url}/deploy", json=body, headers=headers, timeout=WAIT)
        assert answer.status_code == 413
        assert len(answer.content) < 200


# ---- stops in the middle of webhook work ----------------------------------------------------


@pytest.fixture
def github(fake_github: FakeGitHub) -> tuple[FakeGitHub, int]:
    fake_github.add_repo(REPO)
    fake_github.add_collaborator(REPO, "alice", "write")
    return fake_github, fake_github.add_pull(REPO, "feature", user="alice")


def webhook_env(fake: FakeGitHub) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": "ghp_test",
        "GITHUB_API_URL": fake.url,
        "SOMLIER_GITHUB_PACE": "0",
        "SOMLIER__GITHUB__PROJECTS_REPO": REPO,
    }


def deliver(url: str, payload: dict[str, Any], delivery: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        f"{url}/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature(Secret(WEBHOOK_SECRET), body),
        },
        timeout=30,
    )


def comments(fake: FakeGitHub, number: int, count: int) -> list[dict[str, Any]]:
    made = []
    for _ in range(count):
        ident = fake.add_comment(REPO, number, "/help", user="alice")
        made.append(comment_payload("/help", number=number, comment_id=ident))
    return made


def replies_per_comment(fake: FakeGitHub, number: int) -> dict[str, int]:
    """How many somlier replies answer each comment (the marker names the comment)."""
    counts: dict[str, int] = {}
    for c in fake.comments(REPO, number):
        if "somlier:chatops" in c.body:
            key = c.body.rsplit("somlier:chatops", 1)[1]
            counts[key] = counts.get(key, 0) + 1
    return counts


def states(folder: Path, deliveries: list[str]) -> list[str]:
    store = DeliveryStore(folder / ".somlier" / "webhooks.sqlite3")
    try:
        return [(store.get(d) or {}).get("state", "missing") for d in deliveries]
    finally:
        store.close()


def test_sigterm_finishes_the_queued_deliveries_before_exiting(
    tmp_path: Path, github: tuple[FakeGitHub, int]
) -> None:
    fake, number = github
    slow = fake.inject("POST", r"/reactions$", None, times=None, delay=0.5)
    child = start_api(tmp_path, "--drain-timeout", "120", env_extra=webhook_env(fake))
    ids = [f"d-{i}" for i in range(3)]
    for payload, delivery in zip(comments(fake, number, 3), ids, strict=True):
        assert deliver(child.url, payload, delivery).status_code == 202
    wait_until(lambda: {"hits": slow.hits}, lambda d: d["hits"] >= 1)  # the first one runs
    child.proc.send_signal(signal.SIGTERM)
    child.proc.wait(120)
    assert "Application shutdown complete." in child.log
    assert states(tmp_path, ids) == ["done", "done", "done"]
    assert sorted(replies_per_comment(fake, number).values()) == [1, 1, 1]


def test_work_cut_short_by_sigkill_or_the_drain_timeout_runs_once_at_the_next_start(
    tmp_path: Path, github: tuple[FakeGitHub, int]
) -> None:
    fake, number = github
    slow = fake.inject("POST", r"/reactions$", None, times=None, delay=1.0)
    payloads = comments(fake, number, 4)
    ids = [f"d-{i}" for i in range(4)]

    # SIGKILL while the first delivery runs: nothing gets a chance to clean up
    child = start_api(tmp_path, env_extra=webhook_env(fake))
    for payload, delivery in zip(payloads[:2], ids[:2], strict=True):
        assert deliver(child.url, payload, delivery).status_code == 202
    wait_until(lambda: {"hits": slow.hits}, lambda d: d["hits"] >= 1)
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait(30)
    assert states(tmp_path, ids[:2]) == ["running", "queued"]

    # a stop whose drain timeout passes while work is left
    child = start_api(tmp_path, "--drain-timeout", "0.2", env_extra=webhook_env(fake))
    for payload, delivery in zip(payloads[2:], ids[2:], strict=True):
        assert deliver(child.url, payload, delivery).status_code == 202
    child.proc.send_signal(signal.SIGTERM)
    child.proc.wait(60)
    assert "stopping before the webhook queue drained" in child.log
    assert "done" not in states(tmp_path, ids)[3:]

    # the next start runs what was left, GitHub's redeliveries are duplicates
    fake.clear_faults()
    child = start_api(tmp_path, env_extra=webhook_env(fake))
    try:
        wait_until(
            lambda: {"states": states(tmp_path, ids)},
            lambda d: d["states"] == ["done"] * 4,
        )
        for payload, delivery in zip(payloads, ids, strict=True):
            again = deliver(child.url, payload, delivery)
            assert again.status_code == 200 and again.json()["duplicate"] is True
    finally:
        child.stop()
    assert "left unfinished by the last stop, run again" in child.log
    assert sorted(replies_per_comment(fake, number).values()) == [1, 1, 1, 1]
