"""Benchmark ``somlier pipeline build`` against the floor: a raw ``docker build`` + ``docker push``.

The repo: 100 small Python projects (``projects/pNNN/``: a Dockerfile ``FROM ${BASE_IMAGE}`` that
copies the project into ``/app/``, requirements.txt, main.py, somlier.yaml) on ``main``, and a
branch ``change`` that changes one of them (``projects/p042``).

First the behaviour: ``somlier pipeline build --base main --pr 1 --json`` builds exactly one image
(``images`` has one entry, not a cache hit) and pushes it; a second run with nothing changed
reports a cache hit and builds nothing.

Then the timing, ``--rounds`` rounds, each fresh on both sides (nothing to reuse):

* somlier: the changed project's main.py gets new content (a new commit, so a new ``src-`` tag)
  and the registry URL a new repository prefix; ``somlier pipeline build -C REPO --base main
  --pr 1 --json`` (change detection, plan, source tarball, build and push of the three tags
  ``src-…``, ``sha-…``, ``pr-1`` through the docker CLI with BuildKit, or through the docker SDK
  with ``--buildkit off``; reports on the console);
* floor: the same project's files (and the global path ``.somlier/platform.yaml``, which somlier
  puts in the context too) copied to a scratch folder beforehand, then ``docker build --network
  host --no-cache`` with the same build args, labels and three tags into another new repository,
  and ``docker push --all-tags`` (the Debian client, ``/usr/bin/docker -H $DOCKER_HOST``);
* the least any Python tool adds: one Python process that runs the floor's two commands through
  ``subprocess`` and does nothing else (into a third repository).

The sides alternate which one goes first. Printed: every round, min and median of each side,
and the pipeline's overhead (somlier / floor - 1; goal: at most 20%).

Needs a Docker engine and a registry: ``.ci/services.sh start`` (``DOCKER_HOST`` and
``SOMLIER_TEST_REGISTRY`` are read from the environment, else from ``/tmp/somlier-services/env``).
The base image is ``somlier-test/python:3.11-bookworm`` when the engine has it (``.ci/services.sh
base-image``), else ``somlier-test/busybox:latest`` (``.ci/services.sh busybox-image``).

Usage: ``.venv/bin/python benchmarks/build.py [--rounds N] [--base-image IMAGE] [--out DIR]
[--buildkit auto|off]`` (auto: BuildKit on both sides, as somlier's default picks it; off: the
classic builder on both).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent
SERVICES_ENV = Path(os.environ.get("SOMLIER_SERVICES_DIR", "/tmp/somlier-services")) / "env"
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
PYTHON_IMAGE = "somlier-test/python:3.11-bookworm"
BUSYBOX_IMAGE = "somlier-test/busybox:latest"
CHANGED = 42  # the project the branch changes

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

DOCKERFILE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\nCOPY ${PROJECT_DIR}/ /app/\n"
PLATFORM = "monorepo:\n  global_paths: [.somlier/platform.yaml]\n"


def folder(index: int) -> str:
    return f"projects/p{index:03d}"


def somlier_yaml(index: int) -> str:
    name = f"p{index:03d}"
    return (
        f"project:\n  name: {name}\n"
        '  python: {version: "3.11", requirements_txt: requirements.txt}\n'
        f"  docker: {{name: {name}}}\n"
        f"model: {{name: {name}, version: v0.0.1}}\n"
        "entrypoints:\n  main: {command: python, args: [main.py]}\n"
    )


def main_py(index: int, token: str) -> str:
    return f"# project {index}\nTOKEN = {token!r}\n\nprint('hello from', TOKEN)\n"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def generate(repo: Path, projects: int) -> None:
    """The monorepo: ``projects`` projects on main, branch ``change`` checked out."""
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".somlier").mkdir()
    (repo / ".somlier" / "platform.yaml").write_text(PLATFORM)
    (repo / "README.md").write_text("# ml-projects (build benchmark)\n")
    for index in range(projects):
        path = repo / folder(index)
        path.mkdir(parents=True)
        (path / "Dockerfile").write_text(DOCKERFILE)
        (path / "requirements.txt").write_text("requests\n")
        (path / "main.py").write_text(main_py(index, "v0"))
        (path / "somlier.yaml").write_text(somlier_yaml(index))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"{projects} projects")
    _git(repo, "switch", "-q", "-c", "change")


def change(repo: Path, token: str) -> str:
    """Commit new content in the changed project; return the commit id."""
    (repo / folder(CHANGED) / "main.py").write_text(main_py(CHANGED, token))
    _git(repo, "commit", "-q", "-a", "-m", f"change {token}")
    return _git(repo, "rev-parse", "HEAD").strip()


def services() -> tuple[str, str]:
    """(DOCKER_HOST, registry host:port) from the environment or the services' env file."""
    found = {k: v for k, v in os.environ.items() if k in ("DOCKER_HOST", "SOMLIER_TEST_REGISTRY")}
    if len(found) < 2 and SERVICES_ENV.is_file():
        for line in SERVICES_ENV.read_text().splitlines():
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), value.strip())
    if not found.get("DOCKER_HOST") or not found.get("SOMLIER_TEST_REGISTRY"):
        sys.exit("no Docker engine or registry: run .ci/services.sh start")
    return found["DOCKER_HOST"], found["SOMLIER_TEST_REGISTRY"]


# --buildkit: "auto" (somlier's default: BuildKit through the Debian client, and so the floor's
# docker build too) or "off" (the classic builder on both sides, through the SDK for somlier).
BUILDKIT = {"mode": "auto"}


def docker(host: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "1" if BUILDKIT["mode"] == "auto" else "0"}
    env.pop("DOCKER_HOST", None)
    done = subprocess.run([DOCKER, "-H", host, *args], env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"docker {args[0]} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def somlier_env(host: str, registry_url: str, image: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOMLIER__", "GITHUB_", "SLACK_")) and k != "DOCKER_CONFIG"
    }
    env.update(
        {
            "DOCKER_HOST": host,
            "SOMLIER__REGISTRY__URL": registry_url,
            "SOMLIER__BUILDER__BASE_IMAGE": image,
            "SOMLIER__BUILDER__BUILDKIT": BUILDKIT["mode"],
            # As on a CI runner, where somlier is installed from an index: no wheel of this
            # checkout is made for each build (the projects here do not install somlier).
            "SOMLIER__PACKAGES__SOMLIER": "index",
        }
    )
    return env


def run_somlier(repo: Path, env: Mapping[str, str]) -> tuple[float, dict[str, object], str]:
    argv = [str(VENV_BIN / "somlier"), "pipeline", "build", "-C", str(repo)]
    argv += ["--base", "main", "--pr", "1", "--json"]
    start = time.perf_counter()
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"somlier exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout), done.stderr


def context_copy(repo: Path, dest: Path) -> None:
    """The changed project and the global path, as they are at HEAD, under ``dest``."""
    for path in (folder(CHANGED), ".somlier"):
        shutil.copytree(repo / path, dest / path)


def run_raw(
    host: str, context: Path, repository: str, sha: str, image: str, via_python: bool = False
) -> float:
    tags = (f"src-{secrets.token_hex(6)}", f"sha-{sha[:7]}", "pr-1")
    argv = ["build", "--network", "host", "--no-cache", "--rm", "--force-rm"]
    argv += ["-f", str(context / folder(CHANGED) / "Dockerfile")]
    argv += ["--build-arg", f"BASE_IMAGE={image}", "--build-arg", f"PROJECT_DIR={folder(CHANGED)}"]
    labels = {
        "org.opencontainers.image.title": f"p{CHANGED:03d}",
        "org.opencontainers.image.revision": sha,
        "dev.somlier.source-hash": secrets.token_hex(20),
    }
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    for tag in tags:
        argv += ["-t", f"{repository}:{tag}"]
    if via_python:
        return run_least(host, [[*argv, str(context)], ["push", "--all-tags", repository]])
    start = time.perf_counter()
    docker(host, *argv, str(context))
    docker(host, "push", "--all-tags", repository)
    return time.perf_counter() - start


# The least any Python tool does: start, and run the same two docker commands.
LEAST = """
import json, subprocess, sys
for argv in json.loads(sys.argv[1]):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


def run_least(host: str, commands: list[list[str]]) -> float:
    """Seconds of one Python process that runs ``commands`` (docker arguments) and nothing else."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1" if BUILDKIT["mode"] == "auto" else "0"}
    env.pop("DOCKER_HOST", None)
    argvs = [[DOCKER, "-H", host, *c] for c in commands]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", LEAST, json.dumps(argvs)], env=env, check=True)
    return time.perf_counter() - start


def remove_local(host: str, repository: str) -> None:
    """Drop the round's tags from the engine (outside the timing), so it does not fill up."""
    listed = docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout
    refs = [r for r in listed.split() if r]
    if refs:
        docker(host, "rmi", *refs, check=False)


def check_behaviour(repo: Path, host: str, registry: str, image: str) -> None:
    """One image built for the one changed project; a second run builds nothing."""
    sha = change(repo, "check")
    url = f"{registry}/bench{secrets.token_hex(4)}"
    env = somlier_env(host, url, image)
    first_s, first, _ = run_somlier(repo, env)
    images = first["images"]
    assert isinstance(images, list)
    if len(images) != 1 or images[0]["project"] != f"p{CHANGED:03d}" or images[0]["cache_hit"]:
        sys.exit(f"expected one fresh build of p{CHANGED:03d}, got: {json.dumps(first)}")
    second_s, second, log = run_somlier(repo, env)
    again = second["images"]
    assert isinstance(again, list)
    if len(again) != 1 or not again[0]["cache_hit"] or "building " in log:
        sys.exit(f"expected a cache hit and no build, got: {json.dumps(second)}\n{log}")
    digest = images[0]["digest"]
    print(
        f"check: 1 of 100 projects built and pushed ({images[0]['image']}, "
        f"{len(images[0]['tags'])} tags, {digest}) in {first_s:.2f} s; "
        f"second run: cache hit, nothing built, {second_s:.2f} s (at {sha[:7]})"
    )
    remove_local(host, f"{url}/p{CHANGED:03d}")


PHASES = r"""
import sys, time
start = time.perf_counter()
import pipeline.cli.main
cli = time.perf_counter()
from pipeline.images import buildkit, context, engine, registry
from pipeline.cli import pipeline_build_cmd, wiring
from pipeline.config import settings_load
from pipeline.monorepo import detect
from pipeline.steps import flow, images
modules = time.perf_counter()
spent = {}
order = []

def timed(name, owner, attr):
    order.append(name)
    fn = getattr(owner, attr)
    def wrapper(*args, **kwargs):
        begin = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - begin
    setattr(owner, attr, wrapper)

timed("git rev-parse --show-toplevel (_root)", pipeline_build_cmd, "_root")
timed("platform settings (load_settings)", settings_load, "load_settings")
timed("change detection (detect)", detect, "detect")
timed("read + validate the changed somlier.yaml", flow, "load_changed")
timed("plan: list files, source hash, tags", images, "plan")
timed("registry client (registry_for)", wiring, "registry_for")
timed("find a docker CLI that drives BuildKit", wiring, "buildkit_for")
timed("docker builder set-up (ping; SDK if classic)", engine.DockerBuilder, "__init__")
timed("reports set-up (reports_for)", wiring, "reports_for")
timed("registry: is src- there? (manifest)", registry.Registry, "manifest")
timed("source tarball", context, "tarball")
timed("build + tag + push", engine.DockerBuilder, "build")
timed("  of which: docker build (BuildKit, CLI)", buildkit.BuildKitCli, "build")
timed("  of which: push of the 3 tags (SDK)", engine.DockerBuilder, "_push")
timed("  of which: push of the 3 tags (docker push)", engine.DockerBuilder, "_push_cli")
timed("the image step + reports (execute)", flow, "execute")
sys.argv = ["somlier", *sys.argv[1:]]
begin = time.perf_counter()
code = pipeline.cli.main.main()
done = time.perf_counter()
assert code == 0, code
print(f"import pipeline.cli.main (click, …)	{(cli - start) * 1000:.0f}")
print(f"import the build modules (SDK aside)	{(modules - cli) * 1000:.0f}")
for name, seconds in spent.items():
    print(f"{name}	{seconds * 1000:.0f}")
print(f"the command, in all	{(done - begin) * 1000:.0f}")
"""


def phases(repo: Path, host: str, registry: str, image: str) -> list[tuple[str, float]]:
    """Where one fresh ``somlier pipeline build`` process spends its time (ms)."""
    change(repo, secrets.token_hex(6))
    url = f"{registry}/phases{secrets.token_hex(4)}"
    argv = ["pipeline", "build", "-C", str(repo), "--base", "main", "--pr", "1", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", PHASES, *argv],
        env=somlier_env(host, url, image),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"phases failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    remove_local(host, f"{url}/p{CHANGED:03d}")
    rows = [line.split("\t") for line in done.stdout.splitlines() if line.count("\t") == 1]
    return [(name, float(ms)) for name, ms in rows]


def stats(values: list[float]) -> str:
    return f"{min(values):6.2f} / {statistics.median(values):6.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "build")
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--base-image", help="default: the python test image when present")
    parser.add_argument(
        "--buildkit",
        choices=("auto", "off"),
        default="auto",
        help="auto: BuildKit on both sides (somlier's default); off: the classic builder on both",
    )
    args = parser.parse_args()
    BUILDKIT["mode"] = args.buildkit
    if args.projects <= CHANGED:
        sys.exit(f"--projects must be more than {CHANGED}")

    host, registry = services()
    image = args.base_image
    if image is None:
        has_python = docker(host, "image", "inspect", PYTHON_IMAGE, check=False).returncode == 0
        image = PYTHON_IMAGE if has_python else BUSYBOX_IMAGE
    if docker(host, "image", "inspect", image, check=False).returncode != 0:
        sys.exit(f"{image} is not in the engine: run .ci/services.sh base-image or busybox-image")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(VENV_BIN.parent), str(ROOT / "pipeline")],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    repo: Path = args.out / f"repo-{args.projects}"
    generate(repo, args.projects)
    print(
        f"{args.projects} projects, one changed; base image {image}; registry {registry}; "
        f"{len(os.sched_getaffinity(0))} CPUs; {args.rounds} rounds"
    )
    check_behaviour(repo, host, registry, image)

    ours: list[float] = []
    floor: list[float] = []
    least: list[float] = []
    for number in range(args.rounds):
        token = secrets.token_hex(6)
        sha = change(repo, token)
        url = f"{registry}/bench{token}"
        raw_repository = f"{registry}/raw{token}/p{CHANGED:03d}"
        least_repository = f"{registry}/least{token}/p{CHANGED:03d}"
        with tempfile.TemporaryDirectory(prefix="somlier-build-bench-") as scratch:
            context_copy(repo, Path(scratch))

            def somlier_side(url: str = url) -> float:
                seconds, result, _ = run_somlier(repo, somlier_env(host, url, image))
                built = result["images"]
                assert isinstance(built, list) and len(built) == 1 and not built[0]["cache_hit"]
                return seconds

            def raw_side(
                scratch: str = scratch, sha: str = sha, repository: str = raw_repository
            ) -> float:
                return run_raw(host, Path(scratch), repository, sha, image)

            def least_side(
                scratch: str = scratch, sha: str = sha, repository: str = least_repository
            ) -> float:
                return run_raw(host, Path(scratch), repository, sha, image, via_python=True)

            if number % 2 == 0:
                a, b, c = somlier_side(), raw_side(), least_side()
            else:
                c, b, a = least_side(), raw_side(), somlier_side()
        ours.append(a)
        floor.append(b)
        least.append(c)
        print(
            f"  round {number + 1}: somlier {a:6.2f} s   floor {b:6.2f} s   ratio {a / b:5.2f}"
            f"   python + docker CLI {c:6.2f} s"
        )
        remove_local(host, f"{url}/p{CHANGED:03d}")
        remove_local(host, raw_repository)
        remove_local(host, least_repository)

    ratios = [a / b for a, b in zip(ours, floor, strict=True)]
    print("seconds, min / median:")
    print(f"  floor: docker build --no-cache + docker push --all-tags  {stats(floor)}")
    print(f"  somlier pipeline build --base main --pr 1 --json        {stats(ours)}")
    print(f"  python + subprocess running the floor's two commands    {stats(least)}")
    least_ratio = statistics.median(least) / statistics.median(floor)
    print(f"  (the least a Python tool adds: {least_ratio - 1:+.0%}, median / median)")
    median_ratio = statistics.median(ours) / statistics.median(floor)
    print(
        f"overhead: {median_ratio - 1:+.0%} (median / median), "
        f"{min(ours) / min(floor) - 1:+.0%} (min / min), "
        f"{statistics.median(ratios) - 1:+.0%} (median of the rounds' ratios); goal <= +20%: "
        f"{'met' if median_ratio <= 1.2 else 'missed'}"
    )
    runs = [dict(phases(repo, host, registry, image)) for _ in range(3)]
    print("where a fresh somlier process spends its time (ms, median of 3; nested rows overlap):")
    for name in runs[0]:
        print(f"  {name:48s} {statistics.median(r.get(name, 0.0) for r in runs):7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
