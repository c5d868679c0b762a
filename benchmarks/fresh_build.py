"""Builds on a fresh CI runner: ``somlier pipeline build`` against a plain ``docker build`` +
``docker push``, with no cache and with ``--cache-from`` the previous image, on an engine whose
images and build cache are wiped before every build (a hosted runner starts empty) while the
registry keeps what was pushed.

The project: ``somlier new-project``'s template (its Dockerfile installs requirements.txt and
somlier in one layer, then copies the code) with ``requirements.txt`` = scikit-learn and pandas,
so the install takes tens of seconds. Every wheel comes from a find-links page on 127.0.0.1
(tests/helpers/wheelhouse.py: the host's pip downloads them once; inside a build on this machine
PyPI fails TLS), somlier from a wheel of this checkout on the same page (``packages.somlier:
index``, as when somlier is on the organisation's index). The base image is pushed to the
registry once and named by its registry reference, so every build pulls it, as a runner does.

Each round, for each of the three ways (the order rotates between rounds), into a repository of
its own per round (so the registry holds exactly what that way pushed before):

(a) the first build of the project (nothing in the registry for it);
(b) a code-only change (main.py), after (a) was pushed;
(c) a requirements change (a line added to requirements.txt: the install runs again).

The ways: **somlier** (``somlier pipeline build --main --no-dags --project … --json``: the
``src-`` tag, inline cache metadata, ``--cache-from`` its ``latest``, push of one tag and two set
registry-side); **plain** (``docker build --no-cache`` + ``docker push``); **plain --cache-from**
(the same with ``--cache-from REPO:latest`` and ``BUILDKIT_INLINE_CACHE=1``). All through
Debian's docker client with ``DOCKER_BUILDKIT=1`` (the template's ``RUN --mount`` needs
BuildKit), with the same context, Dockerfile and build arguments. Also, once per round, the
**warm local rebuild**: right after somlier's (a), without wiping, somlier builds another
code-only change (what (b) costs on a runner that kept its engine); and after each round's (b),
the **floor** of (b) on this engine: ``docker pull`` of the image it reuses, on the wiped engine
(the engine keeps images locally, so a build that reuses layers fetches and unpacks them).

For each build the script reports whether the requirements install came from a cache (the
BuildKit log's ``CACHED`` for that step). Printed: every build, medians per scenario and way,
the ratios the goals name, and the load average.

The engine is wiped before every build (``docker image rm -f`` of every image, ``docker builder
prune -af``), so by default the script starts an engine of its own (``.ci/services.sh start``
with a state folder of its own; stopped at the end): wiping the shared test engine would take
the other users' caches (and a prune racing their builds can fail them). ``--docker-host``
uses an engine you name instead, and wipes it. The registry is the test registry
(``SOMLIER_TEST_REGISTRY`` or ``/tmp/somlier-services/env``).

Usage: ``.venv/bin/python benchmarks/fresh_build.py [--rounds N] [--docker-host HOST]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import wheelhouse  # noqa: E402  (the test fixture's wheel helpers)

VENV_BIN = Path(sys.executable).parent
SERVICES = ROOT / ".ci" / "services.sh"
SERVICES_ENV = Path(os.environ.get("SOMLIER_SERVICES_DIR", "/tmp/somlier-services")) / "env"
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
BASE_IMAGE = "somlier-test/python:3.11-bookworm"
PROJECT = "projects/bench"
REQUIREMENTS = "scikit-learn\npandas\n"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
WAYS = ("somlier", "plain", "plain --cache-from")
SCENARIOS = ("a first build", "b code only", "c requirements")
PULL = "docker pull (floor)"


def run(
    argv: list[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: IO[bytes] | None = None,
) -> str:
    done = subprocess.run(
        argv, env=dict(env or os.environ), cwd=cwd, stdin=stdin, capture_output=True, check=False
    )
    out = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} exited {done.returncode}:\n{out[-3000:]}")
    return out


def test_services() -> tuple[str, str]:
    """(the test engine's DOCKER_HOST, the registry's host:port)."""
    found = {k: v for k, v in os.environ.items() if k in ("DOCKER_HOST", "SOMLIER_TEST_REGISTRY")}
    if SERVICES_ENV.is_file():
        for line in SERVICES_ENV.read_text().splitlines():
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), value.strip())
    if not found.get("DOCKER_HOST") or not found.get("SOMLIER_TEST_REGISTRY"):
        sys.exit("no Docker engine or registry: run .ci/services.sh start")
    return found["DOCKER_HOST"], found["SOMLIER_TEST_REGISTRY"]


@contextlib.contextmanager
def own_engine() -> Iterator[str]:
    """A Docker engine of this run's own (and, unused, its registry), stopped at the end."""
    state = Path(tempfile.mkdtemp(prefix="sfb-", dir="/tmp"))
    env = {**os.environ, "SOMLIER_SERVICES_DIR": str(state)}
    try:
        run(["bash", str(SERVICES), "start"], env)
        host = f"unix://{state}/docker.sock"
        yield host
    finally:
        subprocess.run(["bash", str(SERVICES), "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


def docker(host: str, *args: str, stdin: IO[bytes] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env["DOCKER_BUILDKIT"] = "1"
    return run([DOCKER, "-H", host, *args], env, stdin=stdin)


def wipe(host: str) -> None:
    """No image and no build cache left in the engine: a fresh runner."""
    ids = docker(host, "images", "-aq").split()
    if ids:
        docker(host, "image", "rm", "-f", *sorted(set(ids)))
    docker(host, "builder", "prune", "-af")


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], {**os.environ, **GIT_ENV}, cwd=repo).strip()


def make_repo(work: Path) -> dict[str, str]:
    """The monorepo and its four commits: base, two code-only changes, a requirements change."""
    somlier = str(VENV_BIN / "somlier")
    env = {**os.environ, **GIT_ENV}
    run([somlier, "new-monorepo", "mono"], env, cwd=work)
    repo = work / "mono"
    answers = ["--description", "d", "--team", "t", "--author", "a", "--email", "a@example.com"]
    run(
        [
            somlier,
            "new-project",
            "--no-input",
            "--project-name",
            "bench",
            *answers,
            "-o",
            "projects",
        ],
        env,
        cwd=repo,
    )
    (repo / PROJECT / "requirements.txt").write_text(REQUIREMENTS)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "bench project")
    commits = {"base": git(repo, "rev-parse", "HEAD")}
    main_py = repo / PROJECT / "main.py"
    original = main_py.read_text()
    for name, path, text in (
        ("warm", main_py, original + "# warm: another code-only change\n"),
        ("code", main_py, original + "# a code-only change\n"),
        ("requirements", repo / PROJECT / "requirements.txt", REQUIREMENTS + "joblib\n"),
    ):
        git(repo, "checkout", "-q", commits["base"])
        path.write_text(text)
        git(repo, "commit", "-qam", name)
        commits[name] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", commits["base"])
    return commits


def install_cached(log: str) -> bool:
    """Whether the BuildKit log shows the ``pip install`` step taken from a cache."""
    steps = re.findall(r"#(\d+) \[[^\]]*\] RUN .*pip install -r", log)
    return bool(steps) and all(re.search(rf"#{n} CACHED", log) for n in steps)


class Bench:
    def __init__(self, host: str, registry: str, repo: Path, wheels: str, base: str) -> None:
        self.host, self.registry, self.repo, self.base = host, registry, repo, base
        self.pip = {
            "PIP_INDEX_URL": f"{wheels}/no-index/",
            "PIP_FIND_LINKS": f"{wheels}/",
            "SOMLIER_REQUIREMENT": f"somlier=={version()}",
        }

    def somlier(self, prefix: str, commit: str) -> tuple[float, bool, str]:
        git(self.repo, "checkout", "-q", commit)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SOMLIER__", "GITHUB_", "SLACK_")) and k != "DOCKER_CONFIG"
        }
        env.update(
            {
                "DOCKER_HOST": self.host,
                "SOMLIER__REGISTRY__URL": f"{self.registry}/{prefix}",
                "SOMLIER__REGISTRY__INSECURE": "true",
                "SOMLIER__BUILDER__BASE_IMAGE": self.base,
                "SOMLIER__PACKAGES__SOMLIER": "index",
                "SOMLIER__PACKAGES__INDEX_URL": self.pip["PIP_INDEX_URL"],
                "SOMLIER__PACKAGES__FIND_LINKS": json.dumps([self.pip["PIP_FIND_LINKS"]]),
            }
        )
        argv = [str(VENV_BIN / "somlier"), "pipeline", "build", "-C", str(self.repo)]
        argv += ["--main", "--no-dags", "--project", PROJECT, "--json"]
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"somlier exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")
        [image] = json.loads(done.stdout)["images"]
        if image["cache_hit"]:
            sys.exit(f"somlier reused an image instead of building: {image}")
        return seconds, install_cached(done.stderr), done.stderr

    def pull(self, prefix: str) -> tuple[float, bool, str]:
        """``docker pull`` of the image a code-only change reuses: what an engine that keeps
        images locally must fetch and unpack before it can add the code's layer."""
        start = time.perf_counter()
        log = docker(self.host, "pull", f"{self.registry}/{prefix}/ml-bench:latest")
        return time.perf_counter() - start, True, log

    def plain(self, prefix: str, commit: str, cache_from: bool) -> tuple[float, bool, str]:
        ref = f"{self.registry}/{prefix}/ml-bench:latest"
        with tempfile.NamedTemporaryFile(suffix=".tar") as context:
            # the context somlier sends: the project's files and the global path, at the commit
            archive = ["git", "-C", str(self.repo), "archive", "--format=tar", commit, "--"]
            subprocess.run(
                [*archive, PROJECT, ".somlier/platform.yaml"], stdout=context, check=True
            )
            context.seek(0)
            argv = ["build", "--progress", "plain", "--network", "host"]
            argv += ["-f", f"{PROJECT}/Dockerfile"]
            args = {**self.pip, "BASE_IMAGE": self.base, "PROJECT_DIR": PROJECT}
            if cache_from:
                args["BUILDKIT_INLINE_CACHE"] = "1"
                argv += ["--cache-from", ref]
            else:
                argv += ["--no-cache"]
            for key, value in args.items():
                argv += ["--build-arg", f"{key}={value}"]
            start = time.perf_counter()
            log = docker(self.host, *argv, "-t", ref, "-", stdin=context)
            log += docker(self.host, "push", ref)
            seconds = time.perf_counter() - start
        return seconds, install_cached(log), log


def version() -> str:
    import pipeline

    return pipeline.__version__


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docker-host", help="an engine this run may wipe (default: its own)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fresh_build")
    args = parser.parse_args()
    test_host, registry = test_services()
    args.out.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(3)

    # The base image, in the registry, as a runner pulls it.
    base = f"{registry}/somlier-bench/python:3.11-bookworm"
    docker(test_host, "tag", BASE_IMAGE, base)
    docker(test_host, "push", base)

    requirements = [*REQUIREMENTS.split(), "joblib", *wheelhouse.somlier_dependencies()]
    work = Path(tempfile.mkdtemp(prefix="fresh-build-"))
    served = wheelhouse.link_all(
        work / "wheels", wheelhouse.cached_wheels(requirements), wheelhouse.somlier_wheel(work)
    )
    commits = make_repo(work)
    engine = contextlib.nullcontext(args.docker_host) if args.docker_host else own_engine()
    results: dict[tuple[str, str], list[float]] = {}
    cached: dict[tuple[str, str], list[bool]] = {}
    print(f"load average at the start: {load()}", flush=True)
    with wheelhouse.serve(served) as wheels, engine as host:
        assert host is not None
        bench = Bench(host, registry, work / "mono", wheels, base)

        def measure(scenario: str, way: str, prefix: str, commit: str, fresh: bool = True) -> None:
            if fresh:
                wipe(host)
            if way == "somlier" or way == "warm local rebuild":
                seconds, hit, log = bench.somlier(prefix, commit)
            elif way == PULL:
                seconds, hit, log = bench.pull(prefix)
            else:
                seconds, hit, log = bench.plain(prefix, commit, way == "plain --cache-from")
            (args.out / f"{prefix}-{scenario[0]}-{way.split()[0]}.log").write_text(log)
            results.setdefault((scenario, way), []).append(seconds)
            cached.setdefault((scenario, way), []).append(hit)
            install = "no build" if way == PULL else "install from cache" if hit else "install ran"
            print(
                f"  {scenario:15} {way:20} {seconds:7.1f} s  {install}  (load {load()})", flush=True
            )

        for r in range(args.rounds):
            order = WAYS[r % 3 :] + WAYS[: r % 3]
            prefixes = {way: f"fb{token}r{r}w{WAYS.index(way)}" for way in WAYS}
            print(f"round {r + 1}: {', '.join(order)}", flush=True)
            for way in order:
                measure(SCENARIOS[0], way, prefixes[way], commits["base"])
                if way == "somlier":  # the engine still holds (a)'s cache
                    warm = "warm local rebuild"
                    measure(SCENARIOS[1], warm, prefixes[way], commits["warm"], fresh=False)
            for way in order:
                measure(SCENARIOS[1], way, prefixes[way], commits["code"])
            measure(SCENARIOS[1], PULL, prefixes["somlier"], "")
            for way in order:
                measure(SCENARIOS[2], way, prefixes[way], commits["requirements"])
    shutil.rmtree(work, ignore_errors=True)

    print(f"\nload average at the end: {load()}")
    print(f"\nmedians of {args.rounds} rounds, s (install from cache: how many of the rounds)")
    med = {key: statistics.median(values) for key, values in results.items()}
    for scenario in SCENARIOS:
        ways = [*WAYS, "warm local rebuild", PULL] if scenario == SCENARIOS[1] else list(WAYS)
        cells = []
        for way in ways:
            hits = cached[scenario, way]
            count = "" if way == PULL else f" ({sum(hits)}/{len(hits)})"
            cells.append(f"{way} {med[scenario, way]:.1f}{count}")
        print(f"  {scenario:15} " + " | ".join(cells))
    b = SCENARIOS[1]
    print("\nratios (medians)")
    warm = med[b, "warm local rebuild"]
    print(f"  (b) somlier / warm local rebuild: {med[b, 'somlier'] / warm:.2f}x (goal <= 1.3x)")
    print(
        f"  (b) plain no-cache / somlier: {med[b, 'plain'] / med[b, 'somlier']:.2f}x (goal >= 3x)"
    )
    for scenario in SCENARIOS:
        print(
            f"  {scenario}: somlier - plain --cache-from = "
            f"{med[scenario, 'somlier'] - med[scenario, 'plain --cache-from']:+.2f} s; "
            f"plain / somlier {med[scenario, 'plain'] / med[scenario, 'somlier']:.2f}x"
        )
    print(json.dumps({f"{s}|{w}": v for (s, w), v in results.items()}))


if __name__ == "__main__":
    main()
