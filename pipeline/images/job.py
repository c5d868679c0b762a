"""What a builder is asked to build: one image from a context, with its tags, whichever builder
(:mod:`pipeline.images.engine`, :mod:`pipeline.images.buildkit`,
:mod:`pipeline.images.cloudbuild`) builds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.images.packages import BuildSecret
from pipeline.images.refs import ImageName


@dataclass(frozen=True)
class BuildJob:
    project: str
    image: ImageName
    tags: tuple[str, ...]
    context: bytes  # a tar of the sources
    dockerfile: str  # path inside the context
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    cache_from: tuple[str, ...] = ()
    push: bool = True
    secrets: tuple[BuildSecret, ...] = ()  # mounted for a RUN by BuildKit; never build args
