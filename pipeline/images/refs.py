"""Image references and the tags a build carries (pure: no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pipeline.errors import UserError

Trigger = Literal["pr", "main", "manual"]
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")


@dataclass(frozen=True)
class ImageName:
    """``registry/repository`` without a tag; ``registry`` is empty for a local-only image."""

    registry: str
    repository: str

    @classmethod
    def parse(cls, prefix: str, name: str) -> ImageName:
        """``prefix`` is the platform's ``registry.url`` (``host[:port][/path]``), maybe empty."""
        prefix = prefix.strip().rstrip("/")
        if not prefix:
            return cls("", name)
        host, _, path = prefix.partition("/")
        return cls(host, f"{path}/{name}" if path else name)

    def ref(self, tag: str) -> str:
        return (
            f"{self.registry}/{self.repository}:{tag}"
            if self.registry
            else f"{self.repository}:{tag}"
        )

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}" if self.registry else self.repository


@dataclass(frozen=True)
class BuildContext:
    """Why this build runs: a pull request, a push to the default branch, or by hand."""

    trigger: Trigger
    sha: str
    pr_number: int | None = None

    def __post_init__(self) -> None:
        if self.trigger == "pr" and self.pr_number is None:
            raise UserError("a pull-request build needs the PR number")
        if not re.fullmatch(r"[0-9a-f]{7,64}", self.sha):
            raise UserError(f"{self.sha!r} is not a commit id", hint="pass the full SHA")


def source_tag(source_hash: str) -> str:
    """The content-addressed tag: equal sources, equal tag, so a rebuild can be skipped."""
    return f"src-{source_hash[:12]}"


def tags_for(source_hash: str, context: BuildContext, extra: tuple[str, ...]) -> tuple[str, ...]:
    """Every tag of one build, the ``src-`` tag first, without duplicates.

    PRs add ``pr-<N>`` and ``sha-<short>``; the default branch adds ``latest`` and
    ``sha-<short>``; ``project.docker.tags`` are added everywhere but on PRs, where a mutable
    tag such as ``latest`` would let an unmerged change replace what production pulls.
    """
    tags = [source_tag(source_hash), f"sha-{context.sha[:7]}"]
    if context.trigger == "pr":
        tags.append(f"pr-{context.pr_number}")
    else:
        if context.trigger == "main":
            tags.append("latest")
        tags.extend(extra)
    unique = list(dict.fromkeys(tags))
    for tag in unique:
        if not _TAG.match(tag):
            raise UserError(f"{tag!r} is not a valid image tag")
    return tuple(unique)


def cache_sources(image: ImageName, context: BuildContext) -> tuple[str, ...]:
    """The images a build of ``image`` takes its layer cache from (``--cache-from``): the
    previous push of the same pull request (``pr-N``: its requirements, when the PR changed
    them) and ``latest`` (the last release). With BuildKit their inline cache metadata is read
    from the registry: an empty engine (a fresh CI runner) reuses every unchanged layer, such as
    the requirements install, and a tag that does not exist yet is skipped. Nothing for a
    local-only image."""
    if not image.registry:
        return ()
    tags = [f"pr-{context.pr_number}"] if context.trigger == "pr" else []
    return tuple(image.ref(tag) for tag in [*tags, "latest"])
