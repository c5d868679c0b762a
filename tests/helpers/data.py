"""The test data kept in the repository (``tests/data/``); nothing outside it is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"
WEBHOOKS = DATA / "github-webhooks"


def webhook_payload(name: str) -> dict[str, Any]:
    """A fresh copy of the real GitHub payload ``NAME.json`` (e.g. ``"pull_request.opened"``)."""
    return dict(json.loads((WEBHOOKS / f"{name}.json").read_text(encoding="utf-8")))
