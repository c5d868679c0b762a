"""The pure parts of publishing: file-set diff, commit message, PR body, git output parsers,
redaction, request checks, and the PR helpers' decisions (over a stub PyGithub repository)."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from pipeline.errors import UserError
from pipeline.forge.forge_error import ForgeError
from pipeline.forge.pulls import PullRef, PullRequests, Upserted
from pipeline.gitops import Changes, PublishRequest, PublishResult, split_credentials
from pipeline.gitops.clone import git_env
from pipeline.gitops.gitparse import Redactor, parse_ls_remote, parse_ls_tree, parse_push
from pipeline.gitops.proposal import (
    MAX_ROWS,
    Entry,
    blob_id,
    commit_message,
    desired_tree,
    diff_trees,
    pr_body,
    source_of,
    target_tree,
)
from pipeline.gitops.publication import Identity
from pipeline.gitops.publisher import MAX_DELAY, backoff
from pipeline.secret import Secret

SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "ghs_unitCANARY42"


class NoForge:
    def find_open(self, branch: str, base: str | None = None) -> PullRef | None:
        raise AssertionError("not called")

    def upsert(self, branch: str, base: str, **kwargs: Any) -> Upserted:
        raise AssertionError("not called")


def request(**overrides: Any) -> PublishRequest:
    values: dict[str, Any] = {
        "clone_url": "https://github.com/acme/mlops-dags.git",
        "repo": "acme/mlops-dags",
        "project": "alpha",
        "source_repo": "acme/ml-projects",
        "source_commit": SHA,
        "files": {"alpha_daily": "x = 1\n"},
        "workdir": Path("/nonexistent"),
        "forge": NoForge(),
        **overrides,
    }
    return PublishRequest(**values)


# the file-set diff ------------------------------------------------------------------------------


def test_blob_ids_are_gits() -> None:
    assert blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_diff_by_dag_id() -> None:
    current = {
        "kept.py": Entry("100644", blob_id(b"same\n")),
        "changed.py": Entry("100644", blob_id(b"old\n")),
        "gone.py": Entry("100644", blob_id(b"x\n")),
        "notes.txt": Entry("100644", blob_id(b"stray\n")),
        "sub/deep.py": Entry("100644", blob_id(b"deep\n")),
    }
    desired = desired_tree({"kept": "same\n", "changed": "new\n", "fresh": "f\n"})
    changes = diff_trees(current, desired)
    assert changes == Changes(
        added=("fresh",),
        updated=("changed",),
        removed=("gone", "notes.txt", "sub/deep.py"),
        kept=("kept",),
    )
    assert changes.describe() == (
        "added fresh; updated changed; removed gone, notes.txt, sub/deep.py"
    )


def test_a_mode_change_is_an_update_and_same_content_is_not() -> None:
    data = "print(1)\n"
    executable = {"job.py": Entry("100755", blob_id(data.encode()))}
    assert diff_trees(executable, desired_tree({"job": data})).updated == ("job",)
    assert diff_trees(desired_tree({"job": data}), desired_tree({"job": data})).empty


def test_target_tree_prunes_or_keeps_the_other_files() -> None:
    current = desired_tree({"old": "o\n", "job": "v1\n"})
    assert set(target_tree(current, {"job": "v2\n"}, prune=True)) == {"job.py"}
    kept = target_tree(current, {"job": "v2\n"}, prune=False)
    assert kept == {**current, **desired_tree({"job": "v2\n"})}
    assert diff_trees(current, kept) == Changes(updated=("job",), kept=("old",))


def test_non_ascii_sources_are_hashed_as_utf8() -> None:
    source = "# 한국어 \u2028 ✓\n"
    assert desired_tree({"k": source})["k.py"].oid == blob_id(source.encode("utf-8"))


# commit message and PR body -----------------------------------------------------------------------


def test_commit_message_names_project_and_source_and_reads_back() -> None:
    message = commit_message(request(), Changes(added=("a",), removed=("b",)))
    subject, *rest = message.splitlines()
    assert subject == f"somlier: DAGs of alpha from acme/ml-projects@{SHA}"
    assert "Added: a" in rest and "Removed: b" in rest
    assert source_of(message) == ("acme/ml-projects", SHA)
    assert source_of("a commit someone else wrote\n") is None


def test_pr_body_lists_changes_against_the_base() -> None:
    body = pr_body(
        request(),
        Changes(added=("a",), updated=("b",), removed=("c",), kept=("d", "e")),
        "main",
        latest=Changes(updated=("b",)),
    )
    assert body.startswith("<!-- somlier:dags alpha -->\n")
    for row in ("| `a` | added |", "| `b` | updated |", "| `c` | removed |"):
        assert row in body.splitlines()
    assert "Unchanged: 2 DAG file(s)." in body
    assert "Latest update: updated b." in body
    assert f"`{SHA}`" in body and "somlier/alpha" in body


def test_pr_body_says_when_nothing_differs_any_more() -> None:
    body = pr_body(request(), Changes(kept=("a",)), "main")
    assert "no longer differs from `main`" in body and "| DAG |" not in body


def test_pr_body_stays_under_githubs_limit() -> None:
    many = tuple(f"job_{i:05d}" for i in range(5000))
    body = pr_body(request(), Changes(added=many), "main")
    assert len(body) < 65536
    assert f"and {5000 - MAX_ROWS} more" in body


# git output ---------------------------------------------------------------------------------------


def test_ls_remote_gives_the_default_branch() -> None:
    remote = parse_ls_remote(
        f"ref: refs/heads/trunk\tHEAD\n{SHA}\tHEAD\n{'a' * 40}\trefs/heads/somlier/alpha\n"
    )
    assert remote.head == "trunk"
    assert remote.refs == {
        "HEAD": SHA,
        "refs/heads/trunk": SHA,
        "refs/heads/somlier/alpha": "a" * 40,
    }
    assert parse_ls_remote("").head is None


def test_ls_tree_keeps_the_folder_only() -> None:
    text = (
        f"100644 blob {SHA}\tdags/alpha/a.py\0"
        f"100755 blob {'b' * 40}\tdags/alpha/sub/b.py\0"
        f"100644 blob {'c' * 40}\tdags/alphabet/c.py\0"
    )
    assert parse_ls_tree(text, "dags/alpha") == {
        "a.py": Entry("100644", SHA),
        "sub/b.py": Entry("100755", "b" * 40),
    }


REF = "refs/heads/somlier/alpha"


@pytest.mark.parametrize(
    ("line", "state"),
    [
        (f"*\t{SHA}:{REF}\t[new branch]", "ok"),
        (f"+\t{SHA}:{REF}\tabc...def (forced update)", "ok"),
        (f"!\t{SHA}:{REF}\t[rejected] (stale info)", "conflict"),
        (f"!\t{SHA}:{REF}\t[rejected] (fetch first)", "conflict"),
        (f"!\t{SHA}:{REF}\t[remote rejected] (failed to update ref)", "conflict"),
        (f"!\t{SHA}:{REF}\t[remote rejected] (pre-receive hook declined)", "refused"),
        (f"*\t{SHA}:refs/heads/other\t[new branch]", "refused"),
    ],
)
def test_push_outcomes(line: str, state: str) -> None:
    text = f"To https://github.com/acme/mlops-dags.git\n{line}\nDone\n"
    assert parse_push(text, REF).state == state


def test_redaction_covers_every_form() -> None:
    redact = Redactor("a/b+c")
    basic = base64.b64encode(b"x-access-token:a/b+c").decode()
    text = redact(f"url https://x:a/b+c@h and a%2Fb%2Bc and {basic} and {basic.rstrip('=')}")
    assert "a/b+c" not in text and "a%2Fb%2Bc" not in text and basic.rstrip("=") not in text
    assert Redactor(None)("unchanged") == "unchanged"


def test_the_token_goes_into_a_host_scoped_header_in_the_environment() -> None:
    env = git_env(
        Identity(),
        "https://github.com/acme/mlops-dags.git",
        Secret(TOKEN),
        Path("/h"),
        {"PATH": "/bin", "GIT_TRACE": "1", "GITHUB_TOKEN": TOKEN, "https_proxy": "http://p"},
    )
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {basic}"
    assert "GIT_TRACE" not in env and "GITHUB_TOKEN" not in env
    assert env["https_proxy"] == "http://p" and env["HOME"] == "/h"
    assert env["GIT_CONFIG_GLOBAL"] and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_AUTHOR_NAME"] == env["GIT_COMMITTER_NAME"] == "somlier-bot"
    local = git_env(Identity(), "file:///srv/dags.git", Secret(TOKEN), Path("/h"), {})
    assert "GIT_CONFIG_COUNT" not in local


# the request --------------------------------------------------------------------------------------


def test_a_token_in_the_url_moves_out_of_it() -> None:
    url = f"https://x-access-token:{TOKEN}@github.com/acme/mlops-dags.git"
    assert split_credentials(url)[0] == "https://github.com/acme/mlops-dags.git"
    made = request(clone_url=url)
    assert made.clone_url == "https://github.com/acme/mlops-dags.git"
    assert made.token is not None and made.token.reveal() == TOKEN
    assert TOKEN not in repr(made) and "x = 1" not in repr(made)
    assert split_credentials("/srv/dags.git") == ("/srv/dags.git", None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"project": "Alpha_1"}, "DNS-1123"),
        ({"project": "a" * 64}, "DNS-1123"),
        ({"files": {"../evil": ""}}, "dag_id '../evil'"),
        ({"files": {"Bad": ""}}, "dag_id 'Bad'"),
        ({"files": {"ok\n": ""}}, "dag_id 'ok\\n'"),
        ({"project": "alpha\n"}, "DNS-1123"),
        ({"source_commit": "abc1234"}, "commit id"),
        ({"source_commit": "main"}, "commit id"),
        ({"source_commit": SHA + "\n"}, "commit id"),
        ({"repo": "mlops-dags"}, "owner/name"),
        ({"source_repo": "acme/x\nInjected: y"}, "owner/name"),
        ({"base_branch": "main\n"}, "branch"),
        ({"clone_url": "--upload-pack=evil"}, "URL"),
        ({"forge": None}, "GitHub token"),
    ],
)
def test_bad_requests_are_refused_before_anything_runs(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError) as caught:
        request(**overrides)
    assert message in caught.value.message + caught.value.hint


def test_a_dry_run_needs_no_forge() -> None:
    assert request(forge=None, dry_run=True).branch == "somlier/alpha"


def test_result_summary_and_json() -> None:
    result = PublishResult(
        "alpha", "opened", "somlier/alpha", "main", Changes(added=("a",)), SHA, 7, "https://x/7"
    )
    assert result.summary() == "alpha: opened the pull request #7 https://x/7 (added a)"
    assert result.to_json()["added"] == ["a"]
    unchanged = PublishResult("alpha", "unchanged", "somlier/alpha", "main", Changes())
    assert "unchanged" in unchanged.summary()


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(4)
    waits = [backoff(n, 0.5, rng) for n in range(1, 9)]
    assert 0.25 <= waits[0] <= 0.75
    assert all(w <= MAX_DELAY * 1.5 for w in waits)
    assert len({round(w, 6) for w in waits}) == len(waits)


# the PR helpers ---------------------------------------------------------------------------------


@dataclass
class StubPull:
    number: int
    base_ref: str = "main"

    @property
    def html_url(self) -> str:
        return f"https://github.com/acme/mlops-dags/pull/{self.number}"

    @property
    def base(self) -> Any:
        return type("Base", (), {"ref": self.base_ref})()


@dataclass
class StubRepo:
    """Enough of PyGithub's Repository for the decisions of :class:`PullRequests`."""

    open: list[StubPull] = field(default_factory=list)
    create_errors: list[GithubException] = field(default_factory=list)
    create_also_opens: bool = False
    calls: list[str] = field(default_factory=list)
    url: str = "https://api.github.com/repos/acme/mlops-dags"

    def get_pulls(self, **kwargs: Any) -> list[StubPull]:
        self.calls.append(f"list head={kwargs['head']}")
        return list(self.open)

    def create_pull(self, **kwargs: Any) -> StubPull:
        self.calls.append(f"create head={kwargs['head']}")
        if self.create_errors:
            if self.create_also_opens:
                self.open.append(StubPull(10 + len(self.open)))
            raise self.create_errors.pop(0)
        pull = StubPull(10 + len(self.open))
        self.open.append(pull)
        return pull


class Pulls(PullRequests):
    """The real decisions; the PATCH recorded instead of sent."""

    def update(self, number: int, *, title: str, body: str) -> None:
        self._repo.calls.append(f"update {number}")


EXISTS = GithubException(
    422,
    {
        "message": "Validation Failed",
        "errors": [{"message": "A pull request already exists for acme:somlier/alpha."}],
    },
)


def test_find_open_filters_by_owner_and_branch_and_prefers_the_base() -> None:
    repo = StubRepo(open=[StubPull(3, "release"), StubPull(5, "main"), StubPull(4, "main")])
    assert Pulls(repo, "acme/mlops-dags").find_open("somlier/alpha", "main") == PullRef(
        4, "https://github.com/acme/mlops-dags/pull/4", "main"
    )
    assert repo.calls == ["list head=acme:somlier/alpha"]
    assert Pulls(StubRepo(), "acme/mlops-dags").find_open("somlier/alpha") is None


def test_upsert_creates_once_then_updates() -> None:
    repo = StubRepo()
    pulls = Pulls(repo, "acme/mlops-dags")
    first = pulls.upsert("somlier/alpha", "main", title="t", body="b", looked=True)
    second = pulls.upsert("somlier/alpha", "main", title="t", body="b2")
    assert first.created and not second.created and first.pull.number == second.pull.number
    assert repo.calls == [
        "create head=somlier/alpha",
        "list head=acme:somlier/alpha",
        f"update {first.pull.number}",
    ]


@pytest.mark.parametrize("error", [EXISTS, GithubException(502, {"message": "Server Error"})])
def test_a_create_that_happened_anyway_is_found_and_updated(error: GithubException) -> None:
    repo = StubRepo(create_errors=[error], create_also_opens=True)
    result = Pulls(repo, "acme/mlops-dags").upsert(
        "somlier/alpha", "main", title="t", body="b", looked=True
    )
    assert not result.created
    assert repo.calls == [
        "create head=somlier/alpha",
        "list head=acme:somlier/alpha",
        f"update {result.pull.number}",
    ]


def test_a_refused_create_is_a_forge_error_with_a_hint() -> None:
    repo = StubRepo(create_errors=[GithubException(403, {"message": "Resource not accessible"})])
    with pytest.raises(ForgeError) as caught:
        Pulls(repo, "acme/mlops-dags").upsert("somlier/alpha", "main", title="t", body="b")
    assert "403 Resource not accessible" in caught.value.message
    assert "pull_requests:write" in caught.value.hint
    assert repo.calls == ["list head=acme:somlier/alpha", "create head=somlier/alpha"]
