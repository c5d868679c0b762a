"""Publishing rendered DAG files to the dags repository: one branch and one PR per project.

``publish_dags(PublishRequest(...)) -> PublishResult``; see :mod:`pipeline.gitops.publisher`
for what a publish does and ``docs/publishing.md`` for how to use it. Several projects at once
(``offline render --open-pr``, after a merge, ``/dag``): :mod:`pipeline.gitops.projects`.
"""

from __future__ import annotations

from pipeline.gitops.clone import PublishError
from pipeline.gitops.publication import (
    Changes,
    Identity,
    PublishRequest,
    PublishResult,
    PullForge,
    split_credentials,
)
from pipeline.gitops.publisher import publish_dags

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
