"""The spelling of a GitHub repository name, ``owner/name``: one rule for every place that
takes one (settings, the dags and deploy repositories, ``GITHUB_REPOSITORY``)."""

from __future__ import annotations

import re

# Matched with fullmatch: "$" would let a trailing newline through.
REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def is_repo(text: str) -> bool:
    """Whether ``text`` is an ``owner/name`` repository name (the whole of it)."""
    return REPO.fullmatch(text) is not None
