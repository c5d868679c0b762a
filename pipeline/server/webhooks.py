"""``POST /webhooks/github``: filled in by the comment-commands work (issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
