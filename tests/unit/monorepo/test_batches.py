"""Past GitHub's 256 jobs per matrix: the changed projects in balanced batches."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.monorepo import changed
from pipeline.monorepo.batches import MAX_JOBS, batches, split


@given(st.integers(0, 3000), st.integers(1, 300))
def test_batches_cover_every_item_once_in_order_balanced_and_within_the_limit(
    count: int, max_jobs: int
) -> None:
    items = list(range(count))
    parts = split(items, max_jobs)
    assert len(parts) == min(count, max_jobs)
    assert [i for part in parts for i in part] == items
    sizes = [len(part) for part in parts]
    assert not sizes or max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


def test_few_projects_are_one_job_each() -> None:
    found = batches([("a", "projects/a"), ("b", "projects/b")])
    assert [(b.number, b.name, b.paths) for b in found] == [
        (1, "a", ("projects/a",)),
        (2, "b", ("projects/b",)),
    ]


def test_batch_names_are_short_and_stable() -> None:
    projects = [(f"p{i:05d}", f"projects/p{i:05d}") for i in range(10_000)]
    first = batches(projects)
    assert len(first) == MAX_JOBS
    assert first[0].name == "p00000..p00039 (40 projects)"
    assert first[-1].name == "p09961..p09999 (39 projects)"
    assert max(len(b.name) for b in first) <= 40
    assert batches(list(projects)) == first  # the same projects, the same batches


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split([1], 0)


def _report(count: int) -> changed.Report:
    changes = tuple(
        changed.ProjectChange(f"p{i:04d}", f"projects/p{i:04d}", ("global",)) for i in range(count)
    )
    return changed.Report("b" * 40, "h" * 40, "m" * 40, changes, (), True)


def test_the_matrix_is_unchanged_up_to_the_limit_and_batched_past_it() -> None:
    small = changed.as_matrix(_report(3), max_jobs=3)
    assert small == {
        "include": [{"project": f"p{i:04d}", "path": f"projects/p{i:04d}"} for i in range(3)]
    }
    big = changed.as_matrix(_report(1000))
    jobs = big["include"]
    assert len(jobs) == 256
    assert jobs[0] == {
        "batch": 1,
        "project": "p0000..p0003 (4 projects)",
        "path": "projects/p0000 projects/p0001 projects/p0002 projects/p0003",
        "count": 4,
    }
    folders = [path for job in jobs for path in job["path"].split(" ")]
    assert folders == [f"projects/p{i:04d}" for i in range(1000)]
    assert sum(job["count"] for job in jobs) == 1000
    assert json.loads(json.dumps(big, separators=(",", ":"))) == big
