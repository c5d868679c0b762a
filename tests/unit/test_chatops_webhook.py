"""The webhook signature, checked against GitHub's own documented example."""

from __future__ import annotations

from pathlib import Path

from pipeline.config.settings import Secret
from pipeline.server.webhooks import DeliveryStore, signature, verify

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
    assert store.claim("d1", "issue_comment") is True
    assert store.claim("d1", "issue_comment") is False
    store.finish("d1", "done", {"ok": True})
    store.close()
    again = DeliveryStore(path)
    assert again.claim("d1", "issue_comment") is False
    found = again.get("d1")
    assert found is not None and found["state"] == "done" and found["result"] == {"ok": True}
    again.close()


def test_old_delivery_ids_are_dropped_as_new_ones_come(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    store = DeliveryStore(tmp_path / "w.sqlite3", keep=timedelta(days=7), now=lambda: clock[0])
    assert store.claim("old", "issue_comment")
    store.finish("old", "done", None)
    assert store.claim("running", "issue_comment")  # its work never finished
    clock[0] += timedelta(days=6)
    assert store.claim("old", "issue_comment") is False  # a redelivery within the window
    clock[0] += timedelta(days=2)
    assert store.claim("new", "issue_comment")
    assert store.get("old") is None
    assert store.get("running") is not None and store.get("new") is not None
    store.close()
