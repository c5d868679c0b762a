"""Benchmark ``somlier pipeline changed`` on a generated monorepo.

The repo: 10,000 projects (``projects/gNN/pNNNNN/``, five files each, every 50th with
``depends_on: [libs/common/**]``), 2,000 commits on ``main`` written with ``git fast-import``, and
two branches forked five commits before main's tip, each one commit touching 50 files in the
same 10 projects: ``feature`` (code only) and ``feature-config`` (somlier.yaml too, so 10 files
are validated). For each branch, checked out, these run in turn, ``--runs`` times (min and median
of each, after one run each to warm the page cache):

* floor: ``python -c pass`` plus one ``git diff --name-only main...BRANCH`` (summed per run);
* the least any Python tool does: one process that imports ``subprocess`` and runs that
  ``git diff`` (no somlier code at all): what a Python implementation cannot go below;
* ``somlier --version``: the click application starting alone;
* somlier, in the three states of the projects it keeps in ``.git/somlier/projects.json``
  (:mod:`pipeline.monorepo.snapshot`): ``stored`` (an earlier run stored them for this head: a
  re-run), ``diffed`` (stored for main's tip, brought forward by a tree diff: a CI runner that
  keeps its clone), ``cold`` (nothing stored and an empty user cache, so neither the validated
  platform settings nor the compiled validators are there: a fresh clone on a fresh hosted
  runner). somlier's user cache is ``DIR/cache`` (``XDG_CACHE_HOME``);
* stored and cold again with ``-C.`` added, which the fast path (:mod:`pipeline.cli.changed_run`)
  leaves to click: the same run through the click application, to see what the fast path saves;
* with ``--baseline DIR``: an earlier somlier's source tree (e.g. ``git archive HEAD pipeline
  schemas | tar -x -C DIR``), run with ``PYTHONPATH=DIR`` in the same rounds, for before/after;
* naive (``feature`` only): one ``git diff --quiet main...feature -- FOLDER`` per project, run
  for a sample of projects and extrapolated to all of them (the output says so).

Then where a fresh process spends its time, step by step (stored and cold), and the largest
imports of a ``somlier pipeline changed`` process (``-X importtime``).

Usage: ``.venv/bin/python benchmarks/changed.py [--out DIR] [--runs N] [--baseline DIR]``.
The repo is cached in ``DIR`` (default ``benchmarks/out/changed``) and rebuilt when missing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}

FILES_PER_PROJECT = ("somlier.yaml", "main.py", "requirements.txt", "src/model.py", "src/data.py")
BRANCH_PROJECTS = 10
# Two branches, 5 files in each of the same 10 projects: code only, and code with somlier.yaml
# (which adds the validation of 10 files).
_CODE = ("main.py", "requirements.txt", "src/model.py", "src/data.py")
BRANCHES = {"feature": (*_CODE, "src/extra.py"), "feature-config": (*_CODE, "somlier.yaml")}
TAIL_ON_MAIN = 5  # commits on main after the fork point: base != merge base


def _env() -> dict[str, str]:
    return {**os.environ, **GIT_ENV}


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=_env(), input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode()


def project_dir(index: int) -> str:
    return f"projects/g{index // 100:02d}/p{index:05d}"


def somlier_yaml(index: int) -> str:
    name = f"p{index:05d}"
    depends = '  depends_on: ["libs/common/**"]\n' if index % 50 == 0 else ""
    return (
        f'project:\n  name: {name}\n  python: {{version: "3.11"}}\n'
        f"  docker: {{name: {name}}}\n{depends}"
        f"model: {{name: {name}, version: v0.0.1}}\n"
        "entrypoints:\n  main: {command: python, args: [main.py]}\n"
    )


def _content(path: str, revision: int) -> str:
    if path.endswith("requirements.txt"):
        return f"numpy\n# {revision}\n" if revision else "numpy\n"
    return f"# {path}\nREVISION = {revision}\n"


class _Stream:
    """Writes a ``git fast-import`` stream: inline blobs, one mark per commit."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0
        self.when = 1_700_000_000

    def commit(self, branch: str, message: str, files: dict[str, str], parent: int | None) -> int:
        self.mark += 1
        self.when += 60
        msg = message.encode()
        head = (
            f"commit refs/heads/{branch}\nmark :{self.mark}\n"
            f"author bench <bench@example.com> {self.when} +0000\n"
            f"committer bench <bench@example.com> {self.when} +0000\n"
            f"data {len(msg)}\n"
        ).encode()
        self.parts += [head, msg, b"\n"]
        if parent is not None:
            self.parts.append(f"from :{parent}\n".encode())
        for path, text in files.items():
            data = text.encode()
            self.parts.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
            self.parts += [data, b"\n"]
        self.parts.append(b"\n")
        return self.mark

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def generate(repo: Path, projects: int, commits: int) -> None:
    """Write the benchmark monorepo into ``repo`` (removed first)."""
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    rng = random.Random(42)
    stream = _Stream()
    first: dict[str, str] = {
        ".somlier/platform.yaml": "monorepo:\n  global_paths: [.somlier/platform.yaml]\n",
        "libs/common/__init__.py": "",
        "libs/common/util.py": "VALUE = 0\n",
        "README.md": "# ml-projects\n",
    }
    for index in range(projects):
        folder = project_dir(index)
        for name in FILES_PER_PROJECT:
            path = f"{folder}/{name}"
            first[path] = somlier_yaml(index) if name == "somlier.yaml" else _content(path, 0)
    tip = stream.commit("main", "initial import", first, None)
    fork = tip
    for number in range(1, commits):
        touched = {}
        for _ in range(3):
            index = rng.randrange(projects)
            path = f"{project_dir(index)}/{rng.choice(FILES_PER_PROJECT[1:])}"
            touched[path] = _content(path, number)
        tip = stream.commit("main", f"change {number}", touched, tip)
        if number == commits - 1 - TAIL_ON_MAIN:
            fork = tip
    chosen = rng.sample(range(projects), BRANCH_PROJECTS)
    for branch, names in BRANCHES.items():
        touched = {}
        for index in chosen:
            for name in names:
                path = f"{project_dir(index)}/{name}"
                if name == "somlier.yaml":
                    touched[path] = somlier_yaml(index) + "# reviewed\n"
                else:
                    touched[path] = _content(path, 99_999)
        stream.commit(branch, f"{branch}: touch {len(touched)} files", touched, fork)
    _git(repo, "fast-import", "--quiet", stdin=stream.bytes())
    _git(repo, "checkout", "-q", "feature")
    _git(repo, "gc", "-q")


# (name, argv, environment, what to do untimed before each run)
Step = tuple[str, list[str], dict[str, str], Callable[[], None] | None]


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def rounds(steps: list[Step], cwd: Path, runs: int) -> dict[str, list[float]]:
    """Seconds of each step, ``runs`` times, the steps taking turns (so a burst of load on the
    machine hits all of them alike); each step's ``before`` runs untimed before it."""
    spent: dict[str, list[float]] = {name: [] for name, *_ in steps}
    for number in range(runs + 1):  # the first round warms the page cache and is dropped
        for name, argv, env, before in steps:
            if before is not None:
                before()
            seconds = _time(argv, cwd, env)
            if number:
                spent[name].append(seconds)
    return spent


def _ms(values: list[float]) -> str:
    return f"{min(values) * 1000:7.1f} / {statistics.median(values) * 1000:7.1f}"


def _ratio(values: list[float], floor: list[float]) -> str:
    lo = min(values) / min(floor)
    mid = statistics.median(values) / statistics.median(floor)
    return f"{lo:5.1f}x / {mid:5.1f}x"


def naive(repo: Path, sample: int, env: dict[str, str]) -> tuple[float, int]:
    """Seconds of a per-project ``git diff --quiet`` loop over ``sample`` projects."""
    start = time.perf_counter()
    changed = 0
    for index in range(sample):
        done = subprocess.run(
            ["git", "diff", "--quiet", "main...feature", "--", project_dir(index)],
            cwd=repo,
            env=env,
            check=False,
        )
        changed += done.returncode == 1
    return time.perf_counter() - start, changed


# What any Python implementation of the step must do at least: start, and run git once.
LEAST = """
import subprocess, sys
subprocess.run(["git", "diff", "--name-only", "main..." + sys.argv[1]], stdout=subprocess.DEVNULL)
"""

PHASES = r"""
import os, shutil, sys, time
start = time.perf_counter()
import pipeline.cli.entry  # what the console script imports for ``pipeline changed``
import pipeline.cli.pipeline_changed_fast
imported = time.perf_counter()
from pathlib import Path
from pipeline.monorepo import changes, detect, gitblobs, gitdiff, projectfile, snapshot
loaded = time.perf_counter()
spent = {}

def timed(name, fn):
    def wrapper(*args, **kwargs):
        begin = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - begin
    return wrapper

for module, names in ((gitdiff, ("resolve", "merge_base", "diff", "markers", "marker_changes")),
                      (gitblobs, ("read_checked_out", "read_blobs", "checked_out"))):
    for name in names:
        setattr(module, name, timed(f"git: {name}", getattr(module, name)))
gitblobs.holding = timed("projects: hash all somlier.yaml, find depends_on", gitblobs.holding)
snapshot.load = timed("projects: load the stored file", snapshot.load)
snapshot.save = timed("projects: store", snapshot.save)
snapshot.at = timed("projects at head, in all", snapshot.at)
detect.global_paths = timed("config: platform settings (cache, or load)", detect.global_paths)
detect.validate_at_head = timed("config: validate changed somlier.yaml", detect.validate_at_head)
projectfile.depends_on = timed("parse depends_on", projectfile.depends_on)
changes.plan = timed("plan (the pure core)", changes.plan)
if sys.argv[2] == "cold":
    shutil.rmtree(".git/somlier", ignore_errors=True)
    shutil.rmtree(os.environ["XDG_CACHE_HOME"], ignore_errors=True)
begin = time.perf_counter()
detect.detect(Path.cwd(), "main", sys.argv[1], os.environ)
done = time.perf_counter()
print(f"import pipeline.cli.entry, pipeline_changed_fast	{(imported - start) * 1000:.1f}")
print(f"import pipeline.monorepo.detect	{(loaded - imported) * 1000:.1f}")
for name, seconds in spent.items():
    print(f"{name}	{seconds * 1000:.1f}")
print(f"detect() in all	{(done - begin) * 1000:.1f}")
"""


def phases(repo: Path, branch: str, state: str, env: dict[str, str]) -> list[tuple[str, float]]:
    """Where a fresh process spends its time, in ms (median of 5 runs per step)."""
    runs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", PHASES, branch, state],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append([(n, float(v)) for n, v in (line.split("\t") for line in out.splitlines())])
    names = [n for n, _ in runs[-1]]
    return [(n, statistics.median(dict(r).get(n, 0.0) for r in runs)) for n in names]


IMPORTS = """
import sys
sys.argv = ["somlier", "pipeline", "changed", "--base", "main", "--head", sys.argv[1], "--json"]
from pipeline.cli.entry import main
main()
"""


def import_costs(repo: Path, branch: str, env: dict[str, str], limit: int = 14) -> list[str]:
    """The largest imports of a ``somlier pipeline changed`` process (``-X importtime``)."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS, branch],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    total = 0
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth == 0:
            total += int(cumulative)
        if depth <= 1:
            rows.append((int(cumulative) / 1000, f"{'  ' * depth}{name.strip()}"))
    rows.sort(key=lambda r: -r[0])
    return [f"  {'all imports':44s} {total / 1000:7.1f}"] + [
        f"  {name:44s} {ms:7.1f}" for ms, name in rows[:limit]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "changed")
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument("--baseline", type=Path, help="an earlier somlier's source tree")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    repo: Path = args.out / f"repo-{args.projects}-{args.commits}"
    if args.regenerate or not (repo / ".git").is_dir():
        start = time.perf_counter()
        generate(repo, args.projects, args.commits)
        print(f"generated {repo} in {time.perf_counter() - start:.1f} s")
    folders = [str(VENV_BIN.parent), str(ROOT / "pipeline")]
    if args.baseline is not None:
        folders.append(str(args.baseline.resolve() / "pipeline"))
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    cache = (args.out / "cache").resolve()
    env = {**_env(), "HOME": os.environ.get("HOME", "/root"), "XDG_CACHE_HOME": str(cache)}
    env = {k: v for k, v in env.items() if not k.startswith("SOMLIER__")}
    somlier = str(VENV_BIN / "somlier")
    stored = repo / ".git" / "somlier" / "projects.json"
    at_main = args.out / "projects-at-main.json"
    runs = args.runs
    print(
        f"repo: {args.projects:,} projects, {args.commits:,} commits on main; each branch "
        f"touches 50 files in {BRANCH_PROJECTS} projects; {len(os.sched_getaffinity(0))} CPUs; "
        f"{runs} rounds; ms min / median; ratios to the floor min/min and median/median"
    )

    def forget() -> None:
        stored.unlink(missing_ok=True)
        shutil.rmtree(cache, ignore_errors=True)

    def from_main() -> None:
        shutil.copyfile(at_main, stored)

    # The projects stored for main's tip, for the "diffed" state.
    forget()
    _git(repo, "checkout", "-q", "main")
    subprocess.run(
        [somlier, "pipeline", "changed", "--base", "main", "--json"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    shutil.copyfile(stored, at_main)

    missed = []
    for branch in BRANCHES:
        _git(repo, "checkout", "-q", branch)
        command = [somlier, "pipeline", "changed", "--base", "main", "--head", branch, "--json"]
        steps: list[Step] = [
            ("python -c pass", [sys.executable, "-c", "pass"], env, None),
            (
                f"git diff --name-only main...{branch}",
                ["git", "diff", "--name-only", f"main...{branch}"],
                env,
                None,
            ),
            (
                "python + subprocess + git diff (no somlier)",
                [sys.executable, "-c", LEAST, branch],
                env,
                None,
            ),
            ("somlier --version (the CLI starting alone)", [somlier, "--version"], env, None),
            ("somlier changed: stored (a re-run)", command, env, None),
            ("somlier changed: diffed (stored at main)", command, env, from_main),
            ("somlier changed: cold (nothing stored)", command, env, forget),
            # -C. (one token) is left to click by the fast path (changed_run): the same run
            # through the click application, to see whether the fast path still pays.
            ("somlier changed: stored, through click", [*command, "-C."], env, None),
            ("somlier changed: cold, through click", [*command, "-C."], env, forget),
        ]
        if args.baseline is not None:
            base_env = {**env, "PYTHONPATH": str(args.baseline.resolve())}
            steps.append(("baseline somlier changed (--baseline)", command, base_env, None))
        spent = rounds(steps, repo, runs)
        floor = [
            a + b
            for a, b in zip(
                spent["python -c pass"], spent[f"git diff --name-only main...{branch}"], strict=True
            )
        ]
        print(f"{branch}:")
        for name, *_ in steps[:2]:
            print(f"  {name:44s} {_ms(spent[name])}")
        print(f"  {'floor (python -c pass + git diff)':44s} {_ms(floor)}")
        for name, *_ in steps[2:]:
            print(f"  {name:44s} {_ms(spent[name])}   {_ratio(spent[name], floor)}")
        med = {name: statistics.median(values) * 1000 for name, values in spent.items()}
        least = med["python + subprocess + git diff (no somlier)"]
        kept = max(
            med["somlier changed: stored (a re-run)"],
            med["somlier changed: diffed (stored at main)"],
        )
        cold = med["somlier changed: cold (nothing stored)"]
        met = kept <= 150 and cold <= 250 and kept <= 1.5 * least
        if not met:
            missed.append(branch)
        print(
            f"  goals (medians): kept clone {kept:.0f} ms (<= 150), cold {cold:.0f} ms (<= 250), "
            f"kept clone / least Python {kept / least:.2f}x (<= 1.5x): {'met' if met else 'missed'}"
        )
        for state in ("stored", "cold"):
            fast = next(v for k, v in med.items() if k.startswith(f"somlier changed: {state} ("))
            slow = med[f"somlier changed: {state}, through click"]
            print(
                f"  fast path (changed_run) vs click, {state}: {fast:.0f} vs {slow:.0f} ms: "
                f"{slow - fast:+.0f} ms through click"
            )
    forget()
    _git(repo, "checkout", "-q", "feature")
    sample = min(args.naive_sample, args.projects)
    t_sample, hits = naive(repo, sample, env)
    t_naive = t_sample * args.projects / sample
    print(
        f"naive per-project 'git diff --quiet main...feature -- DIR': {t_naive:.1f} s for "
        f"{args.projects:,} projects, extrapolated from {sample} ({t_sample:.2f} s; "
        f"{hits} changed in the sample)"
    )
    for branch in BRANCHES:
        _git(repo, "checkout", "-q", branch)
        for state in ("stored", "cold"):
            print(f"where a fresh process spends its time, {branch}, {state} (ms, median of 5):")
            for name, ms in phases(repo, branch, state, env):
                print(f"  {name:44s} {ms:7.1f}")
    _git(repo, "checkout", "-q", "feature")
    print("largest imports of a 'somlier pipeline changed' process (-X importtime, cumulative ms):")
    for line in import_costs(repo, "feature", env):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
