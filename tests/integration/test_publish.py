"""Publishing DAG files: a real bare "mlops-dags" origin (over file:// and over smart HTTP with
a token), the fake GitHub for the pull requests.

The fake GitHub knows nothing of the bare origin, so the forge used here mirrors the branch's
pushed commit into the fake (``mirror_commit``) before each PR call, as GitHub would see it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from pipeline import proc
from pipeline.forge.forge_error import ForgeError
from pipeline.forge.github import GitHubRepo
from pipeline.forge.pulls import PullRequests
from pipeline.gitops import PublishError, PublishRequest, PublishResult, publish_dags
from pipeline.secret import Secret
from tests.fakes.fixtures import fake_github_fixture, pygithub  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.helpers.git import GitRepo, MakeRepo

pytestmark = pytest.mark.integration

REPO = "acme/mlops-dags"
SOURCE = "acme/ml-projects"
C1 = "1" * 40
C2 = "2" * 40
CANARY = "ghs_CANARY0123456789abcdefCANARY"
OTHER = {"dags/other/other_daily.py": "# another project's DAG\n"}
ENVIRON = {"PATH": os.environ["PATH"]}  # no proxy variables of the machine running the tests


def dag(dag_id: str, version: int = 1) -> str:
    return f'"""{dag_id}"""\nDAG_ID = {dag_id!r}\nVERSION = {version}\n'


@pytest.fixture
def origin(make_repo: MakeRepo) -> GitRepo:
    """The bare dags repository: README, another project's DAG, on main."""
    bare = make_repo("mlops-dags.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# mlops-dags\n", **OTHER})
    seed.git("push", "-q", f"file://{bare.path}", "main")
    return bare


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(REPO)
    return fake_github


def new_forge(fake: FakeGitHub, origin: GitRepo) -> PullRequests:
    """The real PR helpers; the fake learns the branches pushed to the bare origin."""
    fake.follow_origin(REPO, origin.path)
    return GitHubRepo(REPO, Secret(CANARY), api_url=fake.url, pace=False).pulls()


@pytest.fixture
def forge(github: FakeGitHub, origin: GitRepo) -> PullRequests:
    return new_forge(github, origin)


Publish = Callable[..., PublishResult]


@pytest.fixture
def publish(origin: GitRepo, forge: PullRequests, tmp_path: Path) -> Publish:
    def run(files: dict[str, str], project: str = "alpha", **kwargs: Any) -> PublishResult:
        options = {
            "attempts": kwargs.pop("attempts", 5),
            "delay": kwargs.pop("delay", 0.01),
            "log": kwargs.pop("log", None),
            "environ": ENVIRON,
        }
        request = PublishRequest(
            clone_url=kwargs.pop("clone_url", f"file://{origin.path}"),
            repo=REPO,
            project=project,
            source_repo=SOURCE,
            source_commit=kwargs.pop("source_commit", C1),
            files=files,
            workdir=tmp_path / "work",
            forge=kwargs.pop("forge", forge),
            **kwargs,
        )
        return publish_dags(request, **options)

    return run


def tree(origin: GitRepo, ref: str, folder: str = "dags/alpha") -> dict[str, str]:
    names = origin.git("ls-tree", "-r", "--name-only", ref, "--", folder).split()
    return {n: origin.git("show", f"{ref}:{n}") for n in names}


def writes(fake: FakeGitHub) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]


def open_pulls(fake: FakeGitHub) -> list[Any]:
    return [p for p in fake.pulls(REPO) if p.state == "open"]


# the pull request flow ---------------------------------------------------------------------------


def test_first_publish_opens_one_pr_with_the_files(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    files = {"alpha_daily": dag("alpha_daily"), "alpha_weekly": dag("alpha_weekly")}
    result = publish(files)

    assert result.status == "opened" and result.attempts == 1
    assert result.changes.added == ("alpha_daily", "alpha_weekly")
    [pr] = github.pulls(REPO)
    assert pr.number == result.pull_number and pr.state == "open"
    assert pr.pull is not None
    assert (pr.pull.head_ref, pr.pull.base_ref) == ("somlier/alpha", "main")
    assert pr.title == "somlier: DAGs of alpha"
    assert pr.body is not None and C1 in pr.body
    assert "| `alpha_daily` | added |" in pr.body and "| `alpha_weekly` | added |" in pr.body
    assert tree(origin, "somlier/alpha") == {
        "dags/alpha/alpha_daily.py": files["alpha_daily"],
        "dags/alpha/alpha_weekly.py": files["alpha_weekly"],
    }
    assert tree(origin, "somlier/alpha", "dags/other") == OTHER  # the rest untouched
    log = origin.git("log", "--format=%P|%an <%ae>|%cn|%s", "somlier/alpha").splitlines()
    assert log[0] == (
        f"{origin.rev('main')}|somlier-bot <somlier-bot@users.noreply.github.com>|somlier-bot|"
        f"somlier: DAGs of alpha from {SOURCE}@{C1}"
    )
    message = origin.git("log", "-1", "--format=%B", "somlier/alpha")
    assert f"Somlier-Source-Commit: {SOURCE}@{C1}" in message
    assert result.commit == origin.rev("somlier/alpha")


def test_second_publish_updates_the_same_pr(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    first = publish({"alpha_daily": dag("alpha_daily"), "alpha_weekly": dag("alpha_weekly")})
    second = publish(
        {"alpha_daily": dag("alpha_daily", 2), "alpha_weekly": dag("alpha_weekly")},
        source_commit=C2,
    )

    assert second.status == "updated" and second.pull_number == first.pull_number
    assert len(github.pulls(REPO)) == 1
    # Stacked on the PR's branch: the PR keeps its history.
    assert origin.git("log", "--format=%H", "somlier/alpha").split()[:2] == [
        second.commit,
        first.commit,
    ]
    assert tree(origin, "somlier/alpha")["dags/alpha/alpha_daily.py"] == dag("alpha_daily", 2)
    [pr] = github.pulls(REPO)
    assert pr.body is not None and C2 in pr.body and C1 not in pr.body
    assert "Latest update: updated alpha_daily." in pr.body


def test_a_removed_job_has_its_file_deleted(
    publish: Publish, origin: GitRepo, github: FakeGitHub, make_repo: MakeRepo
) -> None:
    # One job already merged to main, plus a stray file somlier did not write.
    merged = make_repo("merged")
    merged.git("pull", "-q", f"file://{origin.path}", "main")
    merged.commit(
        "merge",
        {"dags/alpha/alpha_old.py": dag("alpha_old"), "dags/alpha/notes.txt": "stray\n"},
    )
    merged.git("push", "-q", f"file://{origin.path}", "main")

    publish({"alpha_daily": dag("alpha_daily"), "alpha_weekly": dag("alpha_weekly")})
    result = publish({"alpha_daily": dag("alpha_daily")}, source_commit=C2)

    assert result.status == "updated"
    assert set(tree(origin, "somlier/alpha")) == {"dags/alpha/alpha_daily.py"}
    assert result.changes.added == ("alpha_daily",)
    assert result.changes.removed == ("alpha_old", "notes.txt")
    [pr] = github.pulls(REPO)
    assert pr.body is not None
    assert "| `alpha_old` | removed |" in pr.body and "| `notes.txt` | removed |" in pr.body
    assert "Latest update: removed alpha_weekly." in pr.body


@pytest.mark.parametrize("status", [422, 502])
def test_a_pr_created_by_someone_else_in_between_is_updated(
    publish: Publish, github: FakeGitHub, status: int
) -> None:
    """422 "already exists" (another run opened it a moment ago) or 502 after GitHub stored
    it: the create really happened; the publisher finds that PR and updates it."""
    fault = github.inject("POST", rf"/repos/{REPO}/pulls$", status, after_success=True)
    result = publish({"alpha_daily": dag("alpha_daily")})

    assert fault.hits == 1
    assert len(github.pulls(REPO)) == 1
    assert result.status == "updated" and result.pull_number == github.pulls(REPO)[0].number
    assert writes(github)[-1] == f"PATCH /repos/{REPO}/pulls/{result.pull_number}"


def test_a_422_already_exists_before_the_create_still_leaves_one_pr(
    publish: Publish, github: FakeGitHub
) -> None:
    github.inject("POST", rf"/repos/{REPO}/pulls$", 422)
    result = publish({"alpha_daily": dag("alpha_daily")})
    assert result.status == "opened" and len(open_pulls(github)) == 1


def test_a_closed_pr_with_its_branch_left_over_gets_a_new_pr(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    first = publish({"alpha_daily": dag("alpha_daily")})
    assert first.pull_number is not None
    pygithub(github).get_repo(REPO).get_pull(first.pull_number).edit(state="closed")

    second = publish({"alpha_daily": dag("alpha_daily", 2)}, source_commit=C2)

    assert second.status == "opened" and second.pull_number != first.pull_number
    assert github.pull(REPO, first.pull_number).state == "closed"
    assert [p.number for p in open_pulls(github)] == [second.pull_number]
    # The branch was reset from main and force-pushed: the old commit is gone from it.
    assert origin.git("log", "--format=%H", "somlier/alpha").split()[:2] == [
        second.commit,
        origin.rev("main"),
    ]


def test_nothing_changed_means_no_push_and_no_pr(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    files = {"alpha_daily": dag("alpha_daily")}
    first = publish(files)
    before = origin.rev("somlier/alpha")
    requests = len(github.requests)

    again = publish(files, source_commit=C2)

    assert again.status == "unchanged" and again.commit is None
    assert again.pull_number == first.pull_number  # the PR that already carries them
    assert origin.rev("somlier/alpha") == before
    assert [r.method for r in github.requests[requests:]] == ["GET"]  # the look-up only


def test_files_already_on_main_need_no_branch_and_no_pr(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    result = publish({"other_daily": OTHER["dags/other/other_daily.py"]}, project="other")

    assert result.status == "unchanged" and result.pull_number is None
    assert result.changes.kept == ("other_daily",)
    assert origin.git("branch", "--list", "somlier/*") == ""
    assert github.requests == []  # no branch: no PR can be open, none looked up


def test_an_empty_set_removes_every_dag_of_the_project(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    result = publish({}, project="other")
    assert result.status == "opened" and result.changes.removed == ("other_daily",)
    assert tree(origin, "somlier/other", "dags/other") == {}
    assert tree(origin, "somlier/other", "README.md") == {"README.md": "# mlops-dags\n"}


def test_a_dry_run_pushes_nothing_and_shows_the_diff(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    result = publish({"alpha_daily": dag("alpha_daily")}, dry_run=True, forge=None)

    assert result.status == "planned" and result.pull_number is None
    assert "+++ b/dags/alpha/alpha_daily.py" in result.diff
    assert "+DAG_ID = 'alpha_daily'" in result.diff
    assert origin.git("branch", "--list", "somlier/*") == ""
    assert github.requests == []


def test_an_older_source_commit_does_not_overwrite_a_newer_one(
    publish: Publish, origin: GitRepo, github: FakeGitHub, make_repo: MakeRepo
) -> None:
    source = make_repo("ml-projects")
    old = source.commit("one job")
    new = source.commit("two jobs")
    two = {"alpha_daily": dag("alpha_daily"), "alpha_weekly": dag("alpha_weekly")}
    assert publish(two, source_commit=new, source_root=source.path).status == "opened"

    late = publish({"alpha_daily": dag("alpha_daily")}, source_commit=old, source_root=source.path)

    assert late.status == "superseded"
    assert set(tree(origin, "somlier/alpha")) == {
        "dags/alpha/alpha_daily.py",
        "dags/alpha/alpha_weekly.py",
    }


def test_a_missing_dags_repository_is_a_plain_error(
    publish: Publish, tmp_path: Path, github: FakeGitHub
) -> None:
    with pytest.raises(PublishError) as caught:
        publish({"alpha_daily": dag("alpha_daily")}, clone_url=f"file://{tmp_path}/nowhere.git")
    assert "ls-remote" in caught.value.message


def test_a_base_branch_the_repository_lacks_names_the_setting(
    publish: Publish, origin: GitRepo
) -> None:
    before = origin.git("for-each-ref")
    with pytest.raises(PublishError) as caught:
        publish({"alpha_daily": dag("alpha_daily")}, base_branch="release")
    assert caught.value.message.endswith("has no branch release")
    assert "github.dags_repo" in caught.value.hint
    assert origin.git("for-each-ref") == before  # nothing pushed


def test_one_dag_without_pruning_keeps_the_others(publish: Publish, origin: GitRepo) -> None:
    """``somlier offline create --open-pr``: one hand-made DAG, the project's others kept."""
    publish({"alpha_daily": dag("alpha_daily"), "alpha_weekly": dag("alpha_weekly")})
    result = publish({"alpha_adhoc": dag("alpha_adhoc")}, source_commit=C2, prune=False)
    assert result.status == "updated"
    assert result.changes.added == ("alpha_adhoc", "alpha_daily", "alpha_weekly")
    assert set(tree(origin, "somlier/alpha")) == {
        "dags/alpha/alpha_adhoc.py",
        "dags/alpha/alpha_daily.py",
        "dags/alpha/alpha_weekly.py",
    }


def test_github_refusing_the_pr_is_a_forge_error_and_the_next_run_heals(
    publish: Publish, origin: GitRepo, github: FakeGitHub
) -> None:
    fault = github.inject("POST", rf"/repos/{REPO}/pulls$", 403, times=None)
    with pytest.raises(ForgeError) as caught:
        publish({"alpha_daily": dag("alpha_daily")})
    assert "403" in caught.value.message and "pull_requests:write" in caught.value.hint
    assert github.pulls(REPO) == []  # the branch was pushed, the PR is missing

    fault.times = fault.hits  # spent: GitHub accepts again
    again = publish({"alpha_daily": dag("alpha_daily")})
    assert again.status == "opened" and len(github.pulls(REPO)) == 1
    assert origin.git("log", "--format=%P", "-1", "somlier/alpha").strip() == origin.rev("main")


# concurrency ---------------------------------------------------------------------------------


@pytest.fixture
def push_barrier(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Barrier]:
    """Two threads' first ``git push`` start together, after both have read the remote."""
    barrier = threading.Barrier(2, timeout=60)
    local = threading.local()
    real = proc.run

    def run(*argv: Any, **kwargs: Any) -> proc.Result:
        if "push" in argv and not getattr(local, "pushed", False):
            local.pushed = True
            barrier.wait()
        return real(*argv, **kwargs)

    monkeypatch.setattr(proc, "run", run)
    yield barrier


def in_threads(*jobs: Callable[[], PublishResult]) -> list[PublishResult]:
    results: list[Any] = [None] * len(jobs)

    def work(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in results:
        assert isinstance(r, PublishResult), repr(r)
    return results


def test_two_projects_published_at_once_both_land(
    publish: Publish,
    origin: GitRepo,
    github: FakeGitHub,
    push_barrier: threading.Barrier,
    tmp_path: Path,
) -> None:
    alpha, beta = in_threads(
        lambda: publish({"alpha_daily": dag("alpha_daily")}, "alpha"),
        lambda: publish({"beta_daily": dag("beta_daily")}, "beta"),
    )
    assert (alpha.status, beta.status) == ("opened", "opened")
    heads = sorted(p.pull.head_ref for p in open_pulls(github) if p.pull)
    assert heads == ["somlier/alpha", "somlier/beta"]
    assert set(tree(origin, "somlier/beta", "dags/beta")) == {"dags/beta/beta_daily.py"}


def test_the_same_project_published_twice_at_once_lands_once_in_one_pr(
    publish: Publish, origin: GitRepo, github: FakeGitHub, push_barrier: threading.Barrier
) -> None:
    one = {"alpha_daily": dag("alpha_daily")}
    two = {"alpha_daily": dag("alpha_daily", 2), "alpha_weekly": dag("alpha_weekly")}
    results = in_threads(
        lambda: publish(one, source_commit=C1), lambda: publish(two, source_commit=C2)
    )

    assert sorted(r.attempts for r in results) == [1, 2]  # the loser read again and retried
    assert {r.status for r in results} <= {"opened", "updated"}
    assert len(github.pulls(REPO)) == 1
    # Both commits landed, the retried one on top of the other, with its files.
    first, last = sorted(results, key=lambda r: r.attempts)
    assert origin.git("log", "--format=%H", "somlier/alpha").split()[:3] == [
        last.commit,
        first.commit,
        origin.rev("main"),
    ]
    expected = one if last.changes.added == ("alpha_daily",) else two
    assert tree(origin, "somlier/alpha") == {
        f"dags/alpha/{d}.py": text for d, text in expected.items()
    }
    [pr] = github.pulls(REPO)
    assert pr.body is not None and last.commit is not None
    assert (C1 if expected is one else C2) in pr.body


def test_retries_are_bounded(
    publish: Publish, origin: GitRepo, monkeypatch: pytest.MonkeyPatch, make_repo: MakeRepo
) -> None:
    """A branch that moves before every push: three attempts, then a plain error."""
    rival = make_repo("rival")
    rival.git("pull", "-q", f"file://{origin.path}", "main")
    real = proc.run
    pushes: list[int] = []

    def run(*argv: Any, **kwargs: Any) -> proc.Result:
        if "push" in argv and "--porcelain" in argv:
            pushes.append(1)
            rival.commit(f"rival {len(pushes)}", {"x.txt": str(len(pushes))})
            rival.git("push", "-q", "-f", f"file://{origin.path}", "HEAD:refs/heads/somlier/alpha")
        return real(*argv, **kwargs)

    monkeypatch.setattr(proc, "run", run)
    logged: list[str] = []
    with pytest.raises(PublishError) as caught:
        publish({"alpha_daily": dag("alpha_daily")}, attempts=3, log=logged.append)
    assert len(pushes) == 3
    assert "gave up after 3 attempts" in caught.value.message
    assert sum("retrying" in line for line in logged) == 2


# the token ---------------------------------------------------------------------------------------


class GitHttpServer(ThreadingHTTPServer):
    """Smart HTTP in front of ``git http-backend`` on loopback; every request must carry
    ``Authorization: Basic x-access-token:TOKEN``. Records what it saw, Authorization aside."""

    def __init__(self, root: Path, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _GitHandler)
        self.root = root
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.expected = f"Basic {basic}"
        self.seen: list[str] = []
        self.authorized = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _GitHandler(BaseHTTPRequestHandler):
    server: GitHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        self.server.seen.append(f"{self.command} {self.path} {headers}")
        if self.headers.get("Authorization") != self.server.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.authorized += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REMOTE_USER": "somlier-bot",  # enables receive-pack
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, extra = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                extra.append((name, value))
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def git_http(origin: GitRepo) -> Iterator[GitHttpServer]:
    server = GitHttpServer(origin.path.parent, CANARY)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_token_never_shows(
    publish: Publish,
    origin: GitRepo,
    github: FakeGitHub,
    git_http: GitHttpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The token is in the URL given; git gets it as a header (the server checks), and it is
    in no command line, result, log line, error, request the fakes recorded, or file left."""
    argvs: list[str] = []
    real = proc.run

    def run(*argv: Any, **kwargs: Any) -> proc.Result:
        argvs.append(" ".join(str(a) for a in argv))
        return real(*argv, **kwargs)

    monkeypatch.setattr(proc, "run", run)
    url = f"{git_http.url.replace('://', f'://x-access-token:{CANARY}@')}/mlops-dags.git"
    logged: list[str] = []
    files = {"alpha_daily": dag("alpha_daily")}
    result = publish(files, clone_url=url, log=logged.append)
    assert result.status == "opened" and git_http.authorized >= 3  # ls-remote, fetch, push
    assert tree(origin, "somlier/alpha") == {"dags/alpha/alpha_daily.py": dag("alpha_daily")}

    failures = []
    for bad in (f"{git_http.url}/nowhere.git", url.replace("mlops-dags", "nowhere")):
        with pytest.raises(PublishError) as caught:
            publish(files, clone_url=bad)
        failures += [caught.value.render(), repr(caught.value)]
    with pytest.raises(PublishError) as refused:  # a valid token for a different server
        publish(files, clone_url=url.replace(CANARY, CANARY[::-1]), source_commit=C2)
    failures.append(refused.value.render())

    request = PublishRequest(
        clone_url=url,
        repo=REPO,
        project="alpha",
        source_repo=SOURCE,
        source_commit=C1,
        files=files,
        workdir=tmp_path,
        dry_run=True,
    )
    out = capsys.readouterr()
    texts = [
        *argvs,
        *logged,
        *failures,
        *git_http.seen,
        repr(result),
        repr(request),
        str(result.to_json()),
        out.out,
        out.err,
        *(f"{r.path} {r.query} {r.headers} {r.body!r}" for r in github.requests),
    ]
    encoded = base64.b64encode(f"x-access-token:{CANARY}".encode()).decode()
    for text in texts:
        assert CANARY not in text and encoded not in text, text
    assert request.clone_url == f"{git_http.url}/mlops-dags.git"
    for path in (tmp_path / "work").rglob("*"):  # scratch repositories are removed…
        assert not path.is_file() or CANARY.encode() not in path.read_bytes()
    assert list((tmp_path / "work").iterdir()) == []
