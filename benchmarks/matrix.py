"""Benchmark: a global change on a 10,000-project monorepo, past GitHub's 256 jobs per matrix.

The repo is ``benchmarks/changed.py``'s (10,000 projects, ``.somlier/platform.yaml`` a global
path), plus a branch ``global`` that changes ``.somlier/platform.yaml``: every project changes.
Measured, ``--runs`` times each (min and median):

* planning: ``somlier pipeline changed --base main --head global --matrix`` (a fresh process,
  wall time and peak RSS), with the floor ``git diff --name-only main...global`` beside it;
  the matrix: its jobs, batch sizes, and bytes (GitHub keeps 1 MB of outputs per job);
* one batch job's plan: ``somlier pipeline build --dry-run`` over the first batch's projects;
* the GitHub API calls of the PR run, counted by the GitHub fake (``tests/fakes``): the batch
  jobs post nothing, and ``somlier pipeline report`` over the 256 batch results posts the
  statuses (one, past 50 projects), the one comment and finds it first; beside it, what one job
  per project reporting on its own would cost (``5 + 2K`` calls: a pending and a final status
  per project, then the comment), which for 10,000 projects is four times the hourly budget.

Usage: ``.venv/bin/python benchmarks/matrix.py [--out DIR] [--runs N] [--projects N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import changed  # noqa: E402  (benchmarks/changed.py: the generated monorepo)

SOMLIER = Path(sys.executable).parent / "somlier"


CPU: list[float] = []  # the CPU seconds (user + system) of each process run, in order


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, bytes]:
    """(wall seconds, peak RSS in MiB, stdout) of one process; its CPU time goes to ``CPU``."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    CPU.append(usage.ru_utime + usage.ru_stime)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}")
    return seconds, usage.ru_maxrss // 1024, out


def prepare(repo: Path, projects: int) -> None:
    if not (repo / ".git").exists():
        print(f"generating {projects} projects in {repo} …", flush=True)
        changed.generate(repo, projects, commits=50)
    branches = changed._git(repo, "branch", "--list", "global")
    if not branches.strip():
        changed._git(repo, "switch", "-q", "-c", "global", "main")
        platform = repo / ".somlier" / "platform.yaml"
        platform.write_text(platform.read_text() + "# a global change\n")
        changed._git(repo, "commit", "-qam", "a global change")
    changed._git(repo, "switch", "-q", "global")


def stats(values: list[float]) -> str:
    return f"min {min(values) * 1000:.0f} ms, median {statistics.median(values) * 1000:.0f} ms"


def planning(repo: Path, runs: int, env: dict[str, str]) -> list[dict[str, object]]:
    argv = [str(SOMLIER), "pipeline", "changed", "--base", "main", "--head", "global", "--matrix"]
    floor = ["git", "diff", "--name-only", "main...global"]
    run(argv, repo, env)  # warm the page cache and the stored projects
    times, floors, rss, cpu = [], [], [], []
    out = b""
    for _ in range(runs):
        seconds, peak, out = run(argv, repo, env)
        times.append(seconds)
        cpu.append(CPU[-1])
        rss.append(peak)
        floors.append(run(floor, repo, env)[0])
    jobs = json.loads(out)["include"]
    sizes = [job.get("count", 1) for job in jobs]
    print(
        f"planning (pipeline changed --matrix): {stats(times)} (CPU {stats(cpu)}), "
        f"peak RSS {max(rss)} MiB"
    )
    print(f"  floor (git diff --name-only): {stats(floors)}")
    print(
        f"  matrix: {len(jobs)} jobs of {min(sizes)}–{max(sizes)} projects "
        f"({sum(sizes)} in all), {len(out):,} bytes"
    )
    return jobs


def one_batch(repo: Path, job: dict[str, object], runs: int, env: dict[str, str]) -> None:
    folders = str(job["path"]).split(" ")
    argv = [str(SOMLIER), "pipeline", "build", "--dry-run", "--head", "global"]
    argv += [f"--project={folder}" for folder in folders]
    times, rss, cpu = [], [], []
    for _ in range(runs):
        seconds, peak, _out = run(argv, repo, env)
        times.append(seconds)
        cpu.append(CPU[-1])
        rss.append(peak)
    print(
        f"one batch's plan (pipeline build --dry-run, {len(folders)} projects): "
        f"{stats(times)} (CPU {stats(cpu)}), peak RSS {max(rss)} MiB"
    )


def api_budget(repo: Path, jobs: list[dict[str, object]], env: dict[str, str]) -> None:
    from pipeline.images.outcome import Outcome
    from pipeline.images.refs import BuildContext
    from pipeline.steps import batch_results
    from pipeline.steps.image_step import ImageStepResult
    from tests.fakes.github import FakeGitHub

    head = changed._git(repo, "rev-parse", "global").strip()
    base = changed._git(repo, "rev-parse", "main").strip()
    with FakeGitHub() as fake, tempfile.TemporaryDirectory() as scratch:
        fake.add_repo("acme/ml-projects")
        fake.mirror_commit("acme/ml-projects", base, "main")
        fake.mirror_commit("acme/ml-projects", head, "global")
        number = fake.add_pull("acme/ml-projects", "global")
        for index, job in enumerate(jobs):
            outcomes = tuple(
                Outcome(
                    project=folder.rpartition("/")[2],
                    path=folder,
                    image=f"reg/ml/{folder.rpartition('/')[2]}",
                    tags=("src-0123456789ab", f"pr-{number}"),
                    ok=True,
                    cache_hit=index % 2 == 0,
                )
                for folder in str(job["path"]).split(" ")
            )
            result = ImageStepResult(BuildContext("pr", head, number), (), outcomes)
            batch_results.write(result, Path(scratch) / str(index) / "batch.json")
        report_env = {
            **env,
            "GITHUB_REPOSITORY": "acme/ml-projects",
            "GITHUB_TOKEN": "ghp_bench",
            "GITHUB_API_URL": fake.url,
            "SOMLIER_GITHUB_PACE": "0",
        }
        seconds, peak, out = run(
            [str(SOMLIER), "pipeline", "report", scratch, "--json"], repo, report_env
        )
        count = sum(len(str(job["path"]).split(" ")) for job in jobs)
        calls = fake.api_calls
        [comment] = fake.comments("acme/ml-projects", number)
        statuses = fake.statuses("acme/ml-projects", head)
    print(
        f"report job (pipeline report, {len(jobs)} batch results, {count} projects): "
        f"{seconds * 1000:.0f} ms (CPU {CPU[-1] * 1000:.0f} ms), peak RSS {peak} MiB"
    )
    print(
        f"  GitHub API calls for the PR run: {calls} (batch jobs 0, report {calls}); "
        f"{len(statuses)} status, 1 comment of {len(comment.body):,} characters"
    )
    print(f"  one job per project reporting alone: 5 + 2K = {5 + 2 * count:,} calls")
    assert json.loads(out)["ok"] is True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "matrix")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--projects", type=int, default=10_000)
    args = parser.parse_args()
    repo = args.out / "repo"
    prepare(repo, args.projects)
    env = {**os.environ, **changed.GIT_ENV, "PYTHONPATH": str(ROOT), "CI": "true"}
    env = {k: v for k, v in env.items() if not k.startswith(("GITHUB_", "SOMLIER_"))}
    env["PYTHONPATH"] = str(ROOT)
    jobs = planning(repo, args.runs, env)
    one_batch(repo, jobs[0], max(1, args.runs // 2), env)
    api_budget(repo, jobs, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
