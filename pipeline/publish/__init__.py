"""Publishing rendered DAG files to the dags repository: one branch and one PR per project.

``publish_dags(PublishRequest(...)) -> PublishResult``; see :mod:`pipeline.publish.publisher`
for what a publish does and ``docs/publishing.md`` for how to use it. Several projects at once
(``offline render --open-pr``, after a merge, ``/dag``): :mod:`pipeline.publish.projects`.
"""

from __future__ import annotations

from pipeline.publish.dagsrepo import PublishError
from pipeline.publish.model import (
    Changes,
    Identity,
    PublishRequest,
    PublishResult,
    PullForge,
    split_credentials,
)
from pipeline.publish.publisher import publish_dags

__all__ = [
    "Changes",
    "Identity",
    "PublishError",
    "PublishRequest",
    "PublishResult",
    "PullForge",
    "publish_dags",
    "split_credentials",
]
