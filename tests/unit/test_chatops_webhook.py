"""The webhook signature, checked against GitHub's own documented example."""

from __future__ import annotations

from pathlib import Path

from pipeline.secret import Secret
from pipeline.server.deliveries import Claim, DeliveryStore, signed_keys
from pipeline.server.webhooks import same_repository, signature, verify

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
GITHUB_SECRET = Secret("It's a Secret to Everybody")
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_signature_matches_githubs_example() -> None:
    assert signature(GITHUB_SECRET, GITHUB_BODY) == GITHUB_SIGNATURE
    assert verify(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE)


def test_wrong_missing_or_odd_signatures_fail() -> None:
    assert not verify(GITHUB_SECRET, GITHUB_BODY + b" ", GITHUB_SIGNATURE)
    assert not verify(Secret("other"), GITHUB_BODY, GITHUB_SIGNATURE)
    assert not verify(GITHUB_SECRET, GITHUB_BODY, None)
    assert not verify(GITHUB_SECRET, GITHUB_BODY, "")
    assert not verify(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE.upper())
    assert not verify(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE.replace("sha256", "sha1"))
    assert not verify(GITHUB_SECRET, GITHUB_BODY, "sha256=ü")  # non-ASCII: no crash


def test_deliveries_are_claimed_once_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.sqlite3"
    store = DeliveryStore(path)
    assert store.claim("d1", "issue_comment") is Claim.NEW
    assert store.claim("d1", "issue_comment") is Claim.DUPLICATE
    store.finish("d1", "done", {"ok": True})
    store.close()
    again = DeliveryStore(path)
    assert again.claim("d1", "issue_comment") is Claim.DUPLICATE
    found = again.get("d1")
    assert found is not None and found["state"] == "done" and found["result"] == {"ok": True}
    again.close()


def test_old_delivery_ids_are_dropped_as_new_ones_come(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    store = DeliveryStore(tmp_path / "w.sqlite3", keep=timedelta(days=7), now=lambda: clock[0])
    assert store.claim("old", "issue_comment") is Claim.NEW
    store.finish("old", "done", None)
    assert store.claim("running", "issue_comment") is Claim.NEW  # its work never finished
    clock[0] += timedelta(days=6)
    assert store.claim("old", "issue_comment") is Claim.DUPLICATE  # a redelivery in the window
    clock[0] += timedelta(days=2)
    assert store.claim("new", "issue_comment") is Claim.NEW
    assert store.get("old") is None
    assert store.get("running") is not None and store.get("new") is not None
    store.close()


def test_a_signed_body_or_comment_acts_once_whatever_the_delivery_id(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path / "w.sqlite3")
    body = b'{"action": "created", "comment": {"id": 9}}'
    keys = signed_keys("issue_comment", body, {"action": "created", "comment": {"id": 9}})
    assert store.claim("d1", "issue_comment", body=body, keys=keys) is Claim.NEW
    assert store.claim("d2", "issue_comment", body=body, keys=keys) is Claim.REPLAY
    # the same comment in another body (whitespace, key order): still comment 9, created
    other = b'{"comment": {"id": 9}, "action": "created"}'
    keys2 = signed_keys("issue_comment", other, {"action": "created", "comment": {"id": 9}})
    assert keys2[0] != keys[0]
    assert store.claim("d3", "issue_comment", body=other, keys=keys2) is Claim.REPLAY
    # each edit of a comment is its own event
    edit = {"action": "edited", "comment": {"id": 9, "updated_at": "2026-01-01T00:00:00Z"}}
    later = {"action": "edited", "comment": {"id": 9, "updated_at": "2026-01-01T00:05:00Z"}}
    assert store.claim("d4", "issue_comment", keys=signed_keys("issue_comment", b"a", edit)) is (
        Claim.NEW
    )
    assert store.claim("d5", "issue_comment", keys=signed_keys("issue_comment", b"b", later)) is (
        Claim.NEW
    )
    assert [p.id for p in store.unfinished()] == ["d1", "d4", "d5"]
    assert store.unfinished()[0].payload == {"action": "created", "comment": {"id": 9}}
    store.close()


def test_deliveries_recorded_by_an_older_version_are_read(tmp_path: Path) -> None:
    import sqlite3
    from datetime import datetime, timezone

    path = tmp_path / "w.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE deliveries (id TEXT PRIMARY KEY, event TEXT NOT NULL, received_at TEXT "
        "NOT NULL, state TEXT NOT NULL DEFAULT 'queued', result TEXT)"
    )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    old.execute("INSERT INTO deliveries VALUES ('d0', 'issue_comment', ?, 'done', NULL)", (stamp,))
    old.commit()
    old.close()
    store = DeliveryStore(path)
    assert store.claim("d0", "issue_comment") is Claim.DUPLICATE
    assert store.claim("d1", "issue_comment", body=b"{}") is Claim.NEW
    store.close()


def test_the_projects_repository_is_compared_as_github_does() -> None:
    assert same_repository("acme/ml-projects", "acme/ml-projects")
    assert same_repository("ACME/ML-Projects", "acme/ml-projects")
    for other in (
        "acme/ml-projects-sandbox",
        "acme-sandbox/ml-projects",
        "acme/ml_projects",
        "acme/ml-projects ",
        "аcme/ml-projects",  # Cyrillic a
        "acme/ml-project\u017f",  # long s, which casefolds to "s"
        "acme/ml-pro\u0458ects",  # Cyrillic je
        "",
        None,
        ["acme/ml-projects"],
    ):
        assert not same_repository(other, "acme/ml-projects"), other
    assert not same_repository("\u212aacme/x", "kacme/x")
