"""What one project's image step produced (pure data, shared by the builders and the reports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    project: str
    path: str  # the project folder in the repository
    image: str  # registry/repository, no tag
    tags: tuple[str, ...]
    ok: bool
    cache_hit: bool = False
    digest: str | None = None  # of the pushed manifest; None when nothing was pushed
    seconds: float = 0.0
    error: str = ""
    log_tail: tuple[str, ...] = ()
    pushed: bool = False

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(f"{self.image}:{t}" for t in self.tags)

    @property
    def pinned(self) -> str | None:
        """``image@digest``: what deployments should refer to; None unless it was pushed."""
        return f"{self.image}@{self.digest}" if self.pushed and self.digest else None
