"""Benchmark ``somlier pipeline changed`` on a generated monorepo.

The repo: 10,000 projects (``projects/gNN/pNNNNN/``, five files each, every 50th with
``depends_on: [libs/common/**]``), 2,000 commits on ``main`` written with ``git fast-import``, and
two branches forked five commits before main's tip, each one commit touching 50 files in the
same 10 projects: ``feature`` (code only) and ``feature-config`` (somlier.yaml too, so 10 files
are validated). For each branch, checked out, three timings (min and median of several runs):

* floor: ``python -c pass`` plus one ``git diff --name-only main...BRANCH``;
* somlier: ``somlier pipeline changed --base main --head BRANCH --json``;
* naive (``feature`` only): one ``git diff --quiet main...feature -- FOLDER`` per project, run
  for a sample of projects and extrapolated to all of them (the output says so).

When the goal (within 1.5x of the floor) is missed, it prints where a fresh process spends its
time, step by step, and the largest imports (``-X importtime``).

Usage: ``.venv/bin/python benchmarks/changed.py [--out DIR] [--projects N] [--commits N]``.
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
        f"project:\n  name: {name}\n  python: {{version: \"3.11\"}}\n"
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


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def timings(argv: list[str], cwd: Path, env: dict[str, str], runs: int) -> tuple[float, float]:
    """(min, median) seconds of ``runs`` runs, after one to warm the page cache."""
    _time(argv, cwd, env)
    seconds = [_time(argv, cwd, env) for _ in range(runs)]
    return min(seconds), statistics.median(seconds)


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[0] * 1000:7.1f} / {pair[1] * 1000:7.1f}"


def naive(repo: Path, sample: int, env: dict[str, str]) -> tuple[float, int]:
    """Seconds of a per-project ``git diff --quiet`` loop over ``sample`` projects."""
    start = time.perf_counter()
    changed = 0
    for index in range(sample):
        done = subprocess.run(
            ["git", "diff", "--quiet", "main...feature", "--", project_dir(index)],
            cwd=repo, env=env, check=False,
        )
        changed += done.returncode == 1
    return time.perf_counter() - start, changed


PHASES = r"""
import os, sys, time
start = time.perf_counter()
import pipeline.cli.main  # what the console script imports
imported = time.perf_counter()
from pathlib import Path
from pipeline.monorepo import changes, detect, gitblobs, gitdiff, projectfile
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

for module, names in ((gitdiff, ("resolve", "merge_base", "diff", "markers")),
                      (gitblobs, ("read_checked_out", "read_blobs"))):
    for name in names:
        setattr(module, name, timed(f"git: {name}", getattr(module, name)))
detect.load_settings = timed("config: load_settings (platform.yaml)", detect.load_settings)
detect.validate_at_head = timed("config: validate changed somlier.yaml", detect.validate_at_head)
projectfile.depends_on = timed("scan depends_on (all projects)", projectfile.depends_on)
changes.plan = timed("plan (the pure core)", changes.plan)
begin = time.perf_counter()
detect.detect(Path.cwd(), "main", sys.argv[1], os.environ)
done = time.perf_counter()
print(f"import pipeline.cli.main	{(imported - start) * 1000:.1f}")
print(f"import pipeline.monorepo.detect	{(loaded - imported) * 1000:.1f}")
for name, seconds in spent.items():
    print(f"{name}	{seconds * 1000:.1f}")
print(f"detect() in all	{(done - begin) * 1000:.1f}")
"""


def phases(repo: Path, branch: str, env: dict[str, str]) -> list[tuple[str, float]]:
    """Where a fresh ``somlier pipeline changed`` process spends its time, in ms."""
    out = subprocess.run(
        [sys.executable, "-c", PHASES, branch], cwd=repo, env=env, capture_output=True,
        text=True, check=True,
    ).stdout
    return [(n, float(v)) for n, v in (line.split("\t") for line in out.splitlines())]


def import_costs(env: dict[str, str], limit: int = 12) -> list[tuple[str, float]]:
    """The largest imports of ``pipeline.cli.main`` (``-X importtime``, cumulative ms)."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pipeline.cli.main"],
        env=env, capture_output=True, text=True, check=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth <= 2:
            rows.append((f"{'  ' * depth}{name.strip()}", int(cumulative) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "changed")
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    repo: Path = args.out / f"repo-{args.projects}-{args.commits}"
    if args.regenerate or not (repo / ".git").is_dir():
        start = time.perf_counter()
        generate(repo, args.projects, args.commits)
        print(f"generated {repo} in {time.perf_counter() - start:.1f} s")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(VENV_BIN.parent), str(ROOT / "pipeline")],
        stdout=subprocess.DEVNULL, check=False,
    )
    env = {**_env(), "HOME": os.environ.get("HOME", "/root")}
    env = {k: v for k, v in env.items() if not k.startswith("SOMLIER__")}
    somlier = str(VENV_BIN / "somlier")
    runs = args.runs
    print(f"repo: {args.projects:,} projects, {args.commits:,} commits on main; each branch "
          f"touches 50 files in {BRANCH_PROJECTS} projects; {runs} runs each; ms min / median")
    t_python = timings([sys.executable, "-c", "pass"], repo, env, runs)
    t_version = timings([somlier, "--version"], repo, env, runs)
    print(f"  {'python -c pass':44s} {_ms(t_python)}")
    print(f"  {'somlier --version (the CLI starting alone)':44s} {_ms(t_version)}")
    missed = []
    for branch in BRANCHES:
        _git(repo, "checkout", "-q", branch)
        t_diff = timings(["git", "diff", "--name-only", f"main...{branch}"], repo, env, runs)
        command = [somlier, "pipeline", "changed", "--base", "main", "--head", branch, "--json"]
        t_changed = timings(command, repo, env, runs)
        floor = (t_python[0] + t_diff[0], t_python[1] + t_diff[1])
        ratio = (t_changed[0] / floor[0], t_changed[1] / floor[1])
        print(f"{branch}:")
        print(f"  {f'git diff --name-only main...{branch}':44s} {_ms(t_diff)}")
        print(f"  {'floor (python -c pass + git diff)':44s} {_ms(floor)}")
        print(f"  {'somlier pipeline changed --json':44s} {_ms(t_changed)}   "
              f"{ratio[0]:.1f}x / {ratio[1]:.1f}x the floor (goal <= 1.5x)")
        if ratio[1] > 1.5:
            missed.append(branch)
    _git(repo, "checkout", "-q", "feature")
    sample = min(args.naive_sample, args.projects)
    t_sample, hits = naive(repo, sample, env)
    t_naive = t_sample * args.projects / sample
    print(f"naive per-project 'git diff --quiet main...feature -- DIR': {t_naive:.1f} s for "
          f"{args.projects:,} projects, extrapolated from {sample} ({t_sample:.2f} s; "
          f"{hits} changed in the sample); {t_naive / t_changed[1]:,.0f}x somlier")
    for branch in missed:
        _git(repo, "checkout", "-q", branch)
        print(f"goal missed: where a fresh process spends its time, {branch} (ms):")
        for name, ms in phases(repo, branch, env):
            print(f"  {name:44s} {ms:7.1f}")
    _git(repo, "checkout", "-q", "feature")
    if missed:
        print("largest imports of pipeline.cli.main (-X importtime, cumulative ms):")
        for name, ms in import_costs(env):
            print(f"  {name:44s} {ms:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
