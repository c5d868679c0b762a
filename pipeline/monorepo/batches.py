"""The changed projects as at most N jobs (GitHub Actions runs at most 256 jobs per matrix):
one job per project when they fit, else balanced batches of consecutive projects (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeVar

MAX_JOBS = 256  # GitHub Actions' limit on the jobs of one matrix

T = TypeVar("T")


class Batch(NamedTuple):
    number: int  # 1-based
    name: str  # a short label: the project's name, or "first..last (N projects)"
    names: tuple[str, ...]
    paths: tuple[str, ...]


def split(items: Sequence[T], max_jobs: int = MAX_JOBS) -> list[Sequence[T]]:
    """``items`` in order, cut into ``min(len(items), max_jobs)`` runs whose sizes differ by
    one at most (the longer ones first)."""
    if max_jobs < 1:
        raise ValueError("max_jobs must be at least 1")
    count = min(len(items), max_jobs)
    if not count:
        return []
    size, longer = divmod(len(items), count)
    out: list[Sequence[T]] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < longer else 0)
        out.append(items[start:end])
        start = end
    return out


def batches(projects: Sequence[tuple[str, str]], max_jobs: int = MAX_JOBS) -> list[Batch]:
    """``(name, path)`` of each project, in at most ``max_jobs`` balanced batches."""
    out = []
    for number, part in enumerate(split(projects, max_jobs), 1):
        names = tuple(name for name, _ in part)
        label = names[0] if len(names) == 1 else f"{names[0]}..{names[-1]} ({len(names)} projects)"
        out.append(Batch(number, label, names, tuple(path for _, path in part)))
    return out
