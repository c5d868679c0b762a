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
