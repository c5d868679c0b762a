"""The classic builder's copy of a Dockerfile written for BuildKit.

Project Dockerfiles use ``RUN --mount=type=cache`` (pip's download cache, kept between builds)
and ``RUN --mount=type=secret`` (an index URL with credentials); the engine's classic builder
refuses any ``--mount``. Without them the same ``RUN`` still works there: no cache (pip is told
not to keep one when the mount is absent) and no secret (which the classic builder could not
keep out of the image's history anyway, so a build with one is refused before it starts).
"""

from __future__ import annotations

import re

# A RUN instruction's --mount options, each possibly on its own continued line.
_RUN_MOUNTS = re.compile(
    r"^(?P<run>[ \t]*RUN)(?P<mounts>(?:[ \t]+(?:\\[ \t]*\r?\n[ \t]*)*--mount=\S+)+)",
    re.IGNORECASE | re.MULTILINE,
)


def without_mounts(text: str) -> tuple[str, int]:
    """``text`` with every ``RUN --mount=…`` option removed, and how many were."""
    count = 0

    def strip(match: re.Match[str]) -> str:
        nonlocal count
        count += match.group("mounts").count("--mount=")
        return match.group("run")

    return _RUN_MOUNTS.sub(strip, text), count
