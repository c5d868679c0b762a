"""The outside world of a Kubernetes deploy: the registry client, the image builder, the deploy
repository's pull requests and the token. They are built at the edge
(:func:`pipeline.cli.wiring.adapters_for`) or by a test; nothing here reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.secret import Secret

if TYPE_CHECKING:
    from pipeline.gitops import PullForge
    from pipeline.images.registry import Registry
    from pipeline.steps.images import Builder


@dataclass(frozen=True)
class KubeAdapters:
    """What talks to the outside, built at the edge (``pipeline.cli.wiring``) or by a test."""

    registry: Registry | None = None
    builder_factory: Callable[[], Builder] | None = None
    forge: PullForge | None = field(default=None, repr=False)
    token: Secret | None = None
    clone_url: str | None = None  # the deploy repository for git; None: no repository
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # PATH etc. for git
    workdir: Path | None = None  # scratch space (None: the system's temporary folder)
    wheel_cache: Path | None = None  # None: under workdir, not kept
