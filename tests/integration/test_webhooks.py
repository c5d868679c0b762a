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

from pipeline.cli.api_cmd import webhook_receiver
from pipeline.config.settings import GitHub, PlatformSettings
from pipeline.secret import Secret
from pipeline.server.app import ApiConfig, create_app
from pipeline.server.deliveries import Claim
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
    settings = PlatformSettings(github=GitHub(projects_repo=REPO))
    return webhook_receiver(None, settings, environ, tmp_path / "api.sqlite3")


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
        threading.Thread(
            target=lambda: results.append(store.claim("same", "issue_comment") is Claim.NEW)
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    store.close()


@pytest.mark.parametrize(
    "name",
    [
        "acme/ml-projects-sandbox",  # another repository of the org (an org-wide hook)
        "acme-sandbox/ml-projects",
        "acme/ml_projects",
        "\u0430cme/ml-projects",  # Cyrillic a
        "acme/ml-pro\u0458ects",  # Cyrillic je
        "acme/ml-project\u017f",  # long s: casefold() makes it "s"
        "acme/ml-projects\u200b",  # a zero-width space
    ],
)
def test_deliveries_about_another_repository_are_ignored_and_logged(
    served: Served,
    github: tuple[FakeGitHub, int],
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sandbox repository's admin owns its roles, OWNERS and approvals: a delivery about it
    must not act on the projects repository, whatever the spelling."""
    fake, number = github
    payload = help_comment(fake, number, body="/deploy churn-model 3 --env prod")
    payload["repository"]["full_name"] = name
    before = len(fake.requests)
    with caplog.at_level("WARNING", logger="somlier.webhooks"):
        answer = served.post(payload, delivery=f"d-{uuid.uuid4()}")
    assert answer.status_code == 200
    assert answer.json()["ignored"] is True
    assert "not the projects repository acme/ml-projects" in answer.json()["reason"]
    assert served.receiver is not None
    served.receiver.drain()
    assert len(fake.requests) == before and replies(fake, number) == []
    assert any("not the projects repository" in r.getMessage() for r in caplog.records)


def test_the_projects_repository_matches_case_insensitively(
    served: Served, github: tuple[FakeGitHub, int]
) -> None:
    fake, number = github
    payload = help_comment(fake, number)
    payload["repository"]["full_name"] = REPO.upper()
    assert served.post(payload).status_code == 202
    assert served.receiver is not None
    served.receiver.drain()
    assert len(replies(fake, number)) == 1


def test_without_a_projects_repository_every_delivery_is_ignored(
    github: tuple[FakeGitHub, int], tmp_path: Path
) -> None:
    fake, number = github
    environ = {
        "GITHUB_TOKEN": "ghp_test",
        "GITHUB_API_URL": fake.url,
        "SOMLIER_GITHUB_PACE": "0",
        "SOMLIER_WEBHOOK_SECRET": SECRET,
    }
    receiver = webhook_receiver(None, PlatformSettings(), environ, tmp_path / "api.sqlite3")
    with Served(tmp_path, receiver) as server:
        answer = server.post(help_comment(fake, number))
        assert answer.status_code == 200
        assert "github.projects_repo is not set" in answer.json()["reason"]
    receiver.close()
    assert replies(fake, number) == []


def test_a_captured_body_replayed_with_a_new_delivery_id_acts_once(
    github: tuple[FakeGitHub, int], tmp_path: Path
) -> None:
    """X-GitHub-Delivery is not signed: an attacker who captured one delivery can send it again
    with any id. The signed body (and the comment it carries) is what is recognised."""
    fake, number = github
    payload = help_comment(fake, number)
    body = json.dumps(payload).encode()
    first = receiver_for(fake, tmp_path)
    with Served(tmp_path, first) as server:
        assert server.post(body, delivery="d-original").status_code == 202
        replay = server.post(body, delivery="d-replayed")
        assert replay.status_code == 200 and replay.json()["duplicate"] is True
        first.drain()
    first.close()
    # after a restart, and with the same comment in a re-serialised (re-signed) body
    second = receiver_for(fake, tmp_path)
    with Served(tmp_path, second) as server:
        assert server.post(body, delivery="d-after-restart").json()["duplicate"] is True
        reordered = json.dumps(payload, indent=1).encode()
        assert server.post(reordered, delivery="d-reordered").json()["duplicate"] is True
        second.drain()
    second.close()
    assert len(replies(fake, number)) == 1
    assert second.deliveries.path.exists()


def test_a_deeply_nested_body_is_400(served: Served) -> None:
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = served.post(deep, delivery="d-deep")
    assert answer.status_code == 400
    assert answer.json() == {"detail": "the body is nested too deeply to be a GitHub delivery"}
