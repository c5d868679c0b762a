"""Benchmark: the pure core of change detection (``changes.plan``) on 10,000 projects and 5,000
changed paths (4,000 in projects, 1,000 in a library every tenth project depends on). Prints the
min and median of ``--runs`` runs and exits 1 when the median passes ``--budget`` seconds (2 s:
a CI diff this size must not be what a pipeline waits on). The unit test of the same input
(tests/unit/monorepo/test_changes.py) checks the result; timing lives here, not in tests.

Usage: ``.venv/bin/python benchmarks/plan.py [--runs N] [--budget SECONDS]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from pipeline.monorepo import changes
from pipeline.monorepo.changes import Change


def folder(i: int) -> str:
    return f"projects/g{i // 100:02d}/p{i:05d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0)
    args = parser.parse_args()
    head = {folder(i) for i in range(10_000)}
    depends = {folder(i): ["libs/common/**", f"libs/x{i}/**"] for i in range(0, 10_000, 10)}
    diff = [Change("M", p, p) for p in (f"{folder(i)}/src/m{i}.py" for i in range(0, 8_000, 2))]
    diff += [Change("M", p, p) for p in (f"libs/common/m{i}.py" for i in range(1_000))]
    base = changes.base_folders(head, diff)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = changes.plan(
            diff, head=head, base=base, depends_on=depends, global_paths=(".somlier/platform.yaml",)
        )
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"plan: {len(head)} projects, {len(diff)} paths -> {len(result.projects)} affected; "
        f"min {min(times):.3f} s, median {median:.3f} s (budget {args.budget:.1f} s)"
    )
    return 0 if median < args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
