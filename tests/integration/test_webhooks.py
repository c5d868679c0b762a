"""``POST /webhooks/github`` through a real uvicorn on loopback: signatures, replays, the
background work (the same handler as ``somlier pipeline event``) against the fake GitHub."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from pipeline.cli.comment_edge import webhook_receiver
from pipeline.config.settings import PlatformSettings, Secret
from pipeline.server.app import ApiConfig, create_app
from pipeline.server.store import DeploymentStore
from pipeline.server.webhooks import DeliveryStore, WebhookReceiver, signature
from tests.fakes.chatops import REPO, comment_payload
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-0123456789"


def no_deploys(request: Any, progress: Any) -> dict[str, Any]:
    raise AssertionError("the webhook must not go through POST /deploy's worker")


class Served:
    def __init__(self, tmp_path: Path, receiver: WebhookReceiver | None) -> None:
        self.store = DeploymentStore(tmp_path / "api.sqlite3")
        state = {"github_webhooks": receiver} if receiver is not None else {}
        app = create_app(
            ApiConfig(token=Secret("api-token-0123456789")), self.store, no_deploys, state=state
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/webhooks/github"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.receiver = receiver

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()
        self.store.close()

    def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        event: str = "issue_comment",
        delivery: str | None = None,
        sign: str | None = SECRET,
        signature_header: str | None = None,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        }
        if signature_header is not None:
            headers["X-Hub-Signature-256"] = signature_header
        elif sign is not None:
            headers["X-Hub-Signature-256"] = signature(Secret(sign), body)
        return httpx.post(self.url, content=body, headers=headers, timeout=30)


@pytest.fixture
def github(fake_github: FakeGitHub) -> tuple[FakeGitHub, int]:
    fake_github.add_repo(REPO)
    fake_github.add_collaborator(REPO, "alice", "write")
    return fake_github, fake_github.add_pull(REPO, "feature", user="alice")


def receiver_for(fake: FakeGitHub, tmp_path: Path, secret: str | None = SECRET) -> WebhookReceiver:
    environ = {"GITHUB_TOKEN": "ghp_test", "GITHUB_API_URL": fake.url, "SOMLIER_GITHUB_PACE": "0"}
    if secret is not None:
        environ["SOMLIER_WEBHOOK_SECRET"] = secret
    return webhook_receiver(None, PlatformSettings(), environ, tmp_path / "api.sqlite3")


@pytest.fixture
def served(github: tuple[FakeGitHub, int], tmp_path: Path) -> Iterator[Served]:
    receiver = receiver_for(github[0], tmp_path)
    with Served(tmp_path, receiver) as server:
        yield server
    receiver.close()


def help_comment(fake: FakeGitHub, number: int, body: str = "/help", **kw: Any) -> dict[str, Any]:
    ident = fake.add_comment(REPO, number, body, user="alice")
    return comment_payload(body, login="alice", number=number, comment_id=ident, **kw)


def replies(fake: FakeGitHub, number: int) -> list[str]:
    return [c.body for c in fake.comments(REPO, number) if "somlier:chatops" in c.body]


def test_a_signed_comment_is_accepted_at_once_and_handled_in_the_background(
    served: Served, github: tuple[FakeGitHub, int]
) -> None:
    fake, number = github
    answer = served.post(help_comment(fake, number), delivery="d-1")
    assert answer.status_code == 202
    assert answer.json() == {"delivery": "d-1", "event": "issue_comment", "queued": True}
    assert served.receiver is not None
    served.receiver.drain()
    (reply,) = replies(fake, number)
    assert "/deploy MODEL VERSION" in reply
    done = served.receiver.deliveries.get("d-1")
    assert done is not None and done["state"] == "done"
    assert done["result"]["commands"][0]["state"] == "help"


@pytest.mark.parametrize(
    ("sign", "header"),
    [
        (None, None),  # missing
        ("another-secret", None),  # signed with the wrong secret
        (None, "sha256=" + "0" * 64),
        (None, "sha1=0123"),
        (None, ""),
    ],
)
def test_a_missing_or_wrong_signature_is_401_and_nothing_happens(
    served: Served, github: tuple[FakeGitHub, int], sign: str | None, header: str | None
) -> None:
    fake, number = github
    payload = help_comment(fake, number)
    before = len(fake.requests)
    answer = served.post(payload, delivery="d-bad", sign=sign, signature_header=header)
    assert answer.status_code == 401
    assert served.receiver is not None
    served.receiver.drain()
    assert served.receiver.deliveries.get("d-bad") is None  # a forger cannot burn an id
    assert len(fake.requests) == before and replies(fake, number) == []


def test_a_tampered_body_fails_the_signature(
    served: Served, github: tuple[FakeGitHub, int]
) -> None:
    fake, number = github
    body = json.dumps(help_comment(fake, number)).encode()
    good = signature(Secret(SECRET), body)
    tampered = body.replace(b"/help", b"/hElp")
    assert served.post(tampered, signature_header=good).status_code == 401


def test_a_replayed_delivery_acts_once_even_after_a_restart(
    github: tuple[FakeGitHub, int], tmp_path: Path
) -> None:
    fake, number = github
    payload = help_comment(fake, number)
    first = receiver_for(fake, tmp_path)
    with Served(tmp_path, first) as server:
        assert server.post(payload, delivery="d-7").status_code == 202
        again = server.post(payload, delivery="d-7")
        assert again.status_code == 200 and again.json()["duplicate"] is True
        first.drain()
    first.close()
    second = receiver_for(fake, tmp_path)
    with Served(tmp_path, second) as server:
        assert server.post(payload, delivery="d-7").json()["duplicate"] is True
        second.drain()
    second.close()
    assert len(replies(fake, number)) == 1
    reactions = [r.content for r in fake.comments_by_id[payload["comment"]["id"]].reactions]
    assert reactions == ["eyes", "rocket"]


def test_ignored_events_and_pings_are_answered_without_work(
    served: Served, github: tuple[FakeGitHub, int]
) -> None:
    fake, number = github
    before = len(fake.requests)
    edited = served.post(help_comment(fake, number, action="edited"))
    assert edited.status_code == 200 and edited.json()["ignored"] is True
    assert (
        served.post({"zen": "Keep it logically awesome."}, event="ping").json()["detail"] == "pong"
    )
    pushed = served.post({"ref": "refs/heads/x"}, event="push")
    assert pushed.status_code == 200 and "not a PR comment" in pushed.json()["reason"]
    assert len(fake.requests) == before


def test_malformed_deliveries_are_400(served: Served) -> None:
    assert served.post(b"not json").status_code == 400
    assert served.post(b"[1, 2]").status_code == 400
    assert served.post({"a": 1}, event="").status_code == 400


def test_without_a_secret_the_receiver_refuses_everything(
    github: tuple[FakeGitHub, int], tmp_path: Path
) -> None:
    fake, number = github
    receiver = receiver_for(fake, tmp_path, secret=None)
    with Served(tmp_path, receiver) as server:
        answer = server.post(help_comment(fake, number), sign="")
        assert answer.status_code == 503
    receiver.close()
    with Served(tmp_path / "none", None) as server:
        assert server.post(help_comment(fake, number)).status_code == 503


def test_the_delivery_store_claims_each_id_once(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path / "w.sqlite3")
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(store.claim("same", "issue_comment")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    store.close()
