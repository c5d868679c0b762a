"""docs/tutorial.md, run: the commands are read from the document (tests/tutorial_doc.py) and run
in order, in one shell state (folder and environment carry over, as in a terminal), in a fresh
monorepo from ``somlier new-monorepo`` whose origin is a bare repository in tmp. A command shown
with its output (a ``text`` block) must print that output, up to the normalisation below.

What the reader's world has and this machine has not is mapped here, in one visible table
(:data:`MAPPED`): the document's text on the left is replaced by the test's on the right before
the command runs, and back in what it prints before the comparison. The platform team's settings
(registry, builder, GitHub, Airflow) are environment variables (:func:`platform_environment`),
as the platform's CI and notebook servers set them.

Between the document's steps the test checks what a user cannot see from the shell: the run in
MLflow, the image in the registry, each DAG task's pod run as a container on the engine from the
image the pipeline built, the served model's answer, the Deployment's container answering its
readiness probe and a prediction.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import tutorial_doc
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.helpers import wheelhouse
from tests.helpers.git import GIT_ENV, GitRepo, MakeRepo
from tests.integration.podrun import Container, docker_run_argv, run_container
from tests.integration.services import docker, manifest_digest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOY_REPO = "acme/mlops-deploy"
TOKEN = "ghp_tutorialTOKEN0123456789abcdef"

# The document's text → the test's. Each entry is one thing of the reader's world this machine
# has not; {name}s are filled from :class:`World`.
MAPPED: dict[str, str] = {
    # GitHub's monorepo → a bare repository in tmp (its origin)
    "git@github.com:acme/ml-projects.git": "file://{origin}",
    # the team's MLflow tracking server → `mlflow server` on 127.0.0.1 (SQLite backend)
    "https://mlflow.example.com": "{mlflow}",
    # Artifact Registry → the test registry (plain HTTP on 127.0.0.1)
    "asia-northeast3-docker.pkg.dev": "{registry}",
    # the notebook server's home folder → a folder in tmp
    "/home/jovyan": "{home}",
    # examples of what earlier steps print → what they printed here
    "2f087c4eaec04b258e86e6fbed7d350b": "{run_id}",
    "sha-1a2b3c4": "sha-{sha}",
}
# `make install` installs this checkout's wheel, with no index but the test's wheel folder (the
# packages somlier needs are the notebook server's already: nothing is downloaded).
MAKE_INSTALL = "PIP_NO_INDEX=1 PIP_FIND_LINKS={links}/ make install SOMLIER_REQUIREMENT={wheel}"

# SOMLIER_TUTORIAL_KEEP_GOING=1: run every step even after one failed, to see in one run every
# step that fails (later failures may follow from the first).
KEEP_GOING = os.environ.get("SOMLIER_TUTORIAL_KEEP_GOING") == "1"
# Normalised on both sides before the comparison: timestamps, MLflow's model ids, and the lines
# MLflow itself logs (its format, its timestamps: not somlier's output, not in the document).
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")
_MODEL_ID = re.compile(r"\bm-[0-9a-f]{32}\b")
_MLFLOW_LOG = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d [A-Z]+ mlflow[.\w]*: .*\n?", re.MULTILINE
)
_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")


@dataclass
class World:
    """The test's side of :data:`MAPPED`, filled as the steps run."""

    origin: Path
    mlflow: str
    registry: str
    home: Path
    run_id: str = "(no run yet)"
    sha: str = "(no build yet)"
    example: str = "(no request yet)"  # the body `online deploy --once` sent

    def values(self) -> dict[str, str]:
        return {k: str(v) for k, v in vars(self).items()}

    def to_test(self, text: str) -> str:
        values = self.values()
        for ours, theirs in MAPPED.items():
            text = text.replace(ours, theirs.format(**values))
        return text

    def to_doc(self, text: str) -> str:
        values = self.values()
        for ours, theirs in sorted(MAPPED.items(), key=lambda kv: -len(kv[1].format(**values))):
            text = text.replace(theirs.format(**values), ours)
        text = _MLFLOW_LOG.sub("", text)
        return _MODEL_ID.sub("m-<id>", _TIMESTAMP.sub("<timestamp>", text))


@dataclass
class Shell:
    """One terminal: each command runs in bash in the folder and with the environment the
    previous command left (``cd``, ``export``, ``source`` carry over)."""

    cwd: Path
    env: dict[str, str]
    state: Path  # where bash leaves its folder and environment after each command
    transcript: list[str] = field(default_factory=list)

    def run(self, command: str, stdin: str = "", timeout: float = 900) -> tuple[int, str]:
        """Exit code and output of ``command``: stdout and stderr in the order it wrote them, as
        a terminal shows them."""
        marker = self.state
        script = f'{command}\n__rc=$?\npwd > "{marker}.cwd"; env -0 > "{marker}.env"; exit $__rc\n'
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.transcript.append(f"$ {command}\n{done.stdout}[exit {done.returncode}]")
        cwd_file, env_file = Path(f"{marker}.cwd"), Path(f"{marker}.env")
        if cwd_file.is_file():
            self.cwd = Path(cwd_file.read_text().strip())
            pairs = (item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
            self.env = {k: v for k, v in pairs if k not in ("_", "SHLVL", "OLDPWD")}
            cwd_file.unlink()
            env_file.unlink()
        return done.returncode, done.stdout

    def git(self, *args: str) -> str:
        """A git command where the user is (not part of the document)."""
        done = subprocess.run(
            ["git", *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()


# --- the platform's side --------------------------------------------------------------------


def site_packages() -> str:
    """The notebook server's packages (mlflow, scikit-learn, bentoml, somlier's own): here the
    test's virtualenv, seen by the project's `--system-site-packages` environment."""
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def notebook_server_python(where: Path) -> Path:
    """The notebook server's ``python3`` (what ``make install`` installs into): a virtualenv of
    its own, so nothing is installed into the test's; it sees the test's packages through
    ``PYTHONPATH`` (:func:`platform_environment`), pip included."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin"


@dataclass
class PushMirror:
    """GitHub sees what is pushed to the deploy repository: the bare origin's ``post-receive``
    hook posts each pushed branch here, and the fake GitHub records the commit."""

    fake: FakeGitHub
    repo: str
    url: str = ""

    def __enter__(self) -> PushMirror:
        fake, repo = self.fake, self.repo

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.mirror_commit(repo, body["sha"], body["branch"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/push"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def install(self, bare: GitRepo) -> None:
        hook = bare.path / "hooks" / "post-receive"
        hook.write_text(
            f"#!{sys.executable}\n"
            + textwrap.dedent(f"""\
            import json, sys, urllib.request
            for line in sys.stdin:
                old, new, ref = line.split()
                if ref.startswith("refs/heads/") and set(new) != {{"0"}}:
                    body = json.dumps({{"sha": new, "branch": ref[len("refs/heads/"):]}})
                    urllib.request.urlopen(urllib.request.Request(
                        {self.url!r}, data=body.encode(), method="POST"))
            """)
        )
        hook.chmod(0o755)


def platform_environment(
    *,
    home: Path,
    docker_host: str,
    registry: str,
    base_image: str,
    packages: str,
    server_bin: Path,
    github: FakeGitHub,
    deploy_origin: Path,
) -> dict[str, str]:
    """What the platform team set up on the notebook server and in CI: the registry, the
    builder and its package index, the GitHub token and the deploy repository, Airflow."""
    keep = ("PATH", "LANG", "TMPDIR", "TZ", "SOMLIER_CACHE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(GIT_ENV)
    env.update(
        {
            "HOME": str(home),
            "PATH": os.pathsep.join([str(server_bin), str(BIN), os.environ["PATH"]]),
            "PYTHONPATH": os.pathsep.join([str(ROOT), site_packages()]),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            # the notebook server's cache survives: the serving image's wheels are fetched once
            "XDG_CACHE_HOME": str(Path.home() / ".cache"),
            "DOCKER_HOST": docker_host,
            "SOMLIER__REGISTRY__URL": f"{registry}/acme-ml/ml",
            "SOMLIER__REGISTRY__INSECURE": "true",
            "SOMLIER__BUILDER__BASE_IMAGE": base_image,
            # the platform's package index: here a find-links page with nothing else reachable
            "SOMLIER__PACKAGES__INDEX_URL": packages + "/no-index/",
            "SOMLIER__PACKAGES__FIND_LINKS": f"[{packages}/]",
            "SOMLIER__GITHUB__DEPLOY_REPO": DEPLOY_REPO,
            "SOMLIER_DEPLOY_CLONE_URL": f"file://{deploy_origin}",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": github.url,
            "SOMLIER_GITHUB_PACE": "0",
            "SOMLIER_AIRFLOW_PYTHON": str(ROOT / ".venv-airflow" / "bin" / "python"),
            "BENTOML_DO_NOT_TRACK": "True",
        }
    )
    return env


# --- checks between the steps ---------------------------------------------------------------

IN_POD = r"""
import json, sys, urllib.request
url, body = sys.argv[1], sys.argv[2]
ask = urllib.request.Request(url, data=body.encode() or None,
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(ask, timeout=30) as answer:
    print(answer.status, answer.read().decode())
"""


def in_pod(container: str, docker_host: str, url: str, body: str = "") -> tuple[bool, str]:
    """An HTTP request from inside the container's network namespace (as the kubelet probes
    the pod's address; the engine has no bridge network to publish a port on)."""
    done = docker(
        "exec", container, "python3", "-c", IN_POD, url, body, docker_host=docker_host, check=False
    )
    return done.returncode == 0 and done.stdout.startswith("200 "), done.stdout[4:] + done.stderr


def run_deployment(deployment: dict[str, Any], docker_host: str, body: str) -> tuple[str, str]:
    """The Deployment's container on the engine as the kubelet starts it (its image, command,
    env and user), until its readiness probe answers 200; then one prediction. Returns the
    prediction's answer, or ``("", why)``."""
    pod = deployment["spec"]["template"]["spec"]
    [spec] = pod["containers"]
    argv = docker_run_argv(Container.of_manifest(spec), network="none")
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    argv[1:1] = ["-d", "--user", user]  # in the background, as the pod's securityContext says
    started = docker(*argv, docker_host=docker_host).stdout.strip()
    try:
        port = spec["ports"][0]["containerPort"]
        probe = spec["readinessProbe"]["httpGet"]["path"]
        deadline = time.monotonic() + 180
        while True:
            ready, said = in_pod(started, docker_host, f"http://127.0.0.1:{port}{probe}")
            if ready:
                break
            if time.monotonic() > deadline:
                logs = docker("logs", started, docker_host=docker_host, check=False)
                return "", f"{probe} never answered 200 ({said}):\n{logs.stdout}{logs.stderr}"
            time.sleep(2)
        ok, answer = in_pod(started, docker_host, f"http://127.0.0.1:{port}/predict", body)
        return (answer, "") if ok else ("", f"/predict failed: {answer}")
    finally:
        docker("rm", "-f", started, docker_host=docker_host, check=False)


# --- the test -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheels:
    url: str  # a find-links page on 127.0.0.1: the template's requirements, somlier and its own
    somlier: Path  # this checkout's wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wheels]:
    requirements = ROOT / "project_template" / "requirements.txt"
    listed = [r for r in requirements.read_text().splitlines() if r and not r.startswith("#")]
    cached = wheelhouse.cached_wheels([*listed, *wheelhouse.somlier_dependencies()])
    somlier = wheelhouse.somlier_wheel(tmp_path_factory.mktemp("somlier-wheel"))
    folder = wheelhouse.link_all(tmp_path_factory.mktemp("wheelhouse"), cached, somlier)
    with wheelhouse.serve(folder) as url:
        yield Wheels(url, somlier)


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(DEPLOY_REPO)
    return fake_github


@pytest.fixture
def monorepo_origin(make_repo: MakeRepo, tmp_path: Path) -> GitRepo:
    """What the platform team did once: ``somlier new-monorepo ml-projects``, pushed to the
    (here: bare, local) origin."""
    bare = make_repo("ml-projects.git", bare=True)
    made = subprocess.run(
        [str(BIN / "somlier"), "new-monorepo", "ml-projects"],
        cwd=tmp_path,
        env={**os.environ, **GIT_ENV, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    seed = GitRepo(tmp_path / "ml-projects")
    seed.commit("the monorepo")
    seed.git("push", "-q", f"file://{bare.path}", "main")
    return bare


@pytest.fixture
def deploy_origin(make_repo: MakeRepo) -> GitRepo:
    bare = make_repo("mlops-deploy.git", bare=True)
    seed = make_repo("deploy-seed")
    seed.commit("initial", {"README.md": "# mlops-deploy\n"})
    seed.git("push", "-q", f"file://{bare.path}", "main")
    return bare


def test_the_tutorial_runs_as_written(
    tmp_path: Path,
    monorepo_origin: GitRepo,
    deploy_origin: GitRepo,
    github: FakeGitHub,
    mlflow_server: str,
    docker_host: str,
    registry: str,
    base_image: str,
    wheels: Wheels,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A namespace of the registry for this run alone: an image an earlier run pushed from the
    # same sources (and an older somlier) is never reused.
    scoped = f"{registry}/run-{uuid.uuid4().hex[:8]}"
    world = World(monorepo_origin.path, mlflow_server, scoped, home)
    shell = Shell(
        home,
        platform_environment(
            home=home,
            docker_host=docker_host,
            registry=scoped,
            base_image=base_image,
            packages=wheels.url,
            server_bin=notebook_server_python(tmp_path / "notebook-server"),
            github=github,
            deploy_origin=deploy_origin.path,
        ),
        tmp_path / "shell-state",
    )
    journey = Journey(world, shell, docker_host, registry, deploy_origin, github)
    failures: list[str] = []  # a step failed: the run stops
    differences: list[str] = []  # a step printed other than the document shows

    # A command that fails stops the run (what follows depends on it); a command whose output
    # differs from the document's is reported and the run goes on, so one run shows every step.
    with PushMirror(github, DEPLOY_REPO) as mirror:
        mirror.install(deploy_origin)
        for step in tutorial_doc.read():
            command = world.to_test(step.text)
            if step.canonical == "make install":
                command = MAKE_INSTALL.format(links=wheels.url, wheel=wheels.somlier)
            code, printed = shell.run(command, "".join(a + "\n" for a in step.answers))
            where = f"docs/tutorial.md:{step.line}: {step.text}"
            if code != 0:
                failures.append(f"{where}\nexit {code}:\n{printed}")
                if not KEEP_GOING:
                    break
                continue
            if step.output is not None:
                shown, expected = world.to_doc(step.shown(printed)), "\n".join(step.output)
                if _lines(shown) != _lines(world.to_doc(expected)):
                    differences.append(
                        f"{where}\n--- the document shows\n{expected}\n"
                        f"--- the command printed\n{shown}"
                    )
            try:
                wrong = after(step, printed, journey)
            except Exception as e:  # a check that could not even look: the step failed
                wrong = [f"{type(e).__name__}: {e}"]
            failures += [f"{where}\n{w}" for w in wrong]
            if wrong and not KEEP_GOING:
                break
    assert not failures and not differences, "\n\n".join(
        [*differences, *failures, "--- transcript", *shell.transcript]
    )


def _lines(text: str) -> list[str]:
    """What a reader sees: no trailing spaces, no trailing blank lines."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@dataclass
class Journey:
    """What the checks between the steps look at."""

    world: World
    shell: Shell
    docker_host: str
    registry: str
    deploy_origin: GitRepo
    github: FakeGitHub


def after(step: tutorial_doc.Command, printed: str, j: Journey) -> list[str]:
    """What the test checks once ``step`` ran, where the shell shows nothing of it; what is
    wrong."""
    words = shlex.split(step.text, comments=True)
    world = j.world
    if words[:3] == ["somlier", "online", "train"]:
        ids = _RUN_ID.findall(printed)
        if not ids:
            return [f"online train printed no run id:\n{printed}"]
        world.run_id = ids[0]
        import mlflow

        run = mlflow.MlflowClient(tracking_uri=world.mlflow).get_run(world.run_id)
        if run.info.status != "FINISHED" or "accuracy" not in run.data.metrics:
            return [f"run {world.run_id}: {run.info.status}, metrics {run.data.metrics}"]
        if run.data.tags.get("somlier.project") != "nuj-project":
            return [f"run {world.run_id} is not tagged with its project: {run.data.tags}"]
    elif words[:3] == ["somlier", "pipeline", "build"]:
        world.sha = j.shell.git("rev-parse", "--short=7", "HEAD")
        namespace = world.registry.partition("/")[2]
        manifest_digest(j.registry, f"{namespace}/acme-ml/ml/ml-nuj-project", f"sha-{world.sha}")
    elif words[:3] == ["somlier", "dags", "check"]:
        return check_pods(j, Path(re.sub(r"^~(?=/|$)", str(world.home), words[-1])), printed)
    elif words[:3] == ["somlier", "online", "deploy"] and "--once" in words:
        sent = re.search(r"^POST \S+ (\{.*\})$", printed, re.MULTILINE)
        if sent is None or '"predictions"' not in printed:
            return [f"no prediction:\n{printed}"]
        world.example = sent.group(1)
    elif words[:3] == ["somlier", "online", "deploy"] and "--use_k8s" in words:
        [pr] = j.github.pulls(DEPLOY_REPO)
        assert pr.pull is not None and pr.pull.head_ref == "somlier/deploy/nuj-project-dev"
        why = check_deployment(world, j.deploy_origin, j.docker_host)
        return [] if why is None else [why]
    return []


def check_pods(j: Journey, checked: Path, printed: str) -> list[str]:
    """`dags check` passed, and each DAG task's pod, as `dags check --json` reports it, runs the
    project's ``main`` entrypoint from the image the pipeline built; the GPU job's pod asks for
    its GPUs where they are."""
    wrong = []
    if "0 errors, 0 warnings" not in printed:
        wrong.append(f"somlier dags check found something:\n{printed}")
    code, out = j.shell.run(f"somlier dags check --json {shlex.quote(str(checked))}")
    report = json.loads(out[out.index("{") :]) if "{" in out else {}
    pods = {d["dag_id"]: t["pod"] for d in report.get("dags", []) for t in d["tasks"]}
    if code != 0 or sorted(pods) != ["nuj_tutorial", "nuj_tutorial_gpu"]:
        return [*wrong, f"somlier dags check --json (exit {code}):\n{out}"]
    gpu = pods["nuj_tutorial_gpu"]
    if gpu["limits"].get("nvidia.com/gpu") != "2" or not gpu["node_selector"]:
        wrong.append(f"the GPU pod asks for {gpu['limits']} on {gpu['node_selector']}")
    for dag_id, pod in pods.items():
        done = run_container(Container.of(pod), docker_host=j.docker_host)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        said = [(r.get("name"), r.get("stdout")) for r in lines if "stdout" in r]
        if done.returncode != 0 or ("main", "hello world!!\n") not in said:
            wrong.append(
                f"the pod of {dag_id} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
    return wrong


def check_deployment(world: World, deploy_origin: GitRepo, docker_host: str) -> str | None:
    """The Deployment the GitOps PR carries, run from the pushed serving image: ``None`` when
    it answered its readiness probe and a prediction, else why not."""
    branch = "somlier/deploy/nuj-project-dev"
    names = deploy_origin.git("ls-tree", "-r", "--name-only", branch, "--", "dev/nuj-project")
    documents = {}
    for name in names.split():
        [doc] = list(yaml.safe_load_all(deploy_origin.git("show", f"{branch}:{name}")))
        documents[doc["kind"]] = doc
    answer, why = run_deployment(documents["Deployment"], docker_host, world.example)
    if not answer:
        return why
    if "predictions" not in json.loads(answer):
        return f"the Deployment's container answered {answer}"
    return None
