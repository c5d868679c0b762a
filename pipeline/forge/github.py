"""GitHub through PyGithub, with every API request counted.

Objects are lazy (no request until a value is needed), so a PR report touching K projects costs
one list of comments, one create-or-update, and two statuses per project.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.errors import MissingDependency
from pipeline.forge.forge_error import ForgeError
from pipeline.forge.pulls import PullRequests, PullState
from pipeline.secret import Secret

State = Literal["pending", "success", "failure", "error"]


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


API_CALLS = _Counter()
_installed = False


def _install_counter() -> None:
    """Count every request PyGithub sends, through its documented connection-class hook."""
    global _installed
    if _installed:
        return
    from github import Requester as requester_module

    class CountingHTTPS(requester_module.HTTPSRequestsConnectionClass):
        def request(self, *args: Any, **kwargs: Any) -> None:
            API_CALLS.add()
            super().request(*args, **kwargs)

    class CountingHTTP(requester_module.HTTPRequestsConnectionClass):
        def request(self, *args: Any, **kwargs: Any) -> None:
            API_CALLS.add()
            super().request(*args, **kwargs)

    requester_module.Requester.injectConnectionClasses(CountingHTTP, CountingHTTPS)
    _installed = True


@dataclass(frozen=True)
class Comment:
    id: int
    body: str


class GitHubRepo:
    """One repository, e.g. the ML projects monorepo."""

    def __init__(self, full_name: str, token: Secret, *, api_url: str, pace: bool = True) -> None:
        """``pace``: keep PyGithub's spacing of requests (GitHub's advice against secondary
        rate limits); tests against a local fake turn it off."""
        try:
            from github import Auth, Github, GithubRetry
        except ImportError:
            raise MissingDependency("github", "github") from None
        _install_counter()
        self.full_name = full_name
        self._gh = Github(
            auth=Auth.Token(token.reveal()),
            base_url=api_url.rstrip("/"),
            per_page=100,
            lazy=True,
            timeout=30,
            # Never repeat a POST by itself: a create that failed late may have happened, and
            # upsert_comment looks before it creates again.
            retry=GithubRetry(
                total=3,
                backoff_factor=0.5,
                secondary_rate_wait=5,
                allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
            ),
            seconds_between_requests=0.25 if pace else 0,
            seconds_between_writes=1.0 if pace else 0,
        )
        self._repo = self._gh.get_repo(full_name)
        self._commits: dict[str, Any] = {}

    def set_status(
        self, sha: str, context: str, state: State, description: str, target_url: str | None = None
    ) -> None:
        from github import GithubException

        commit = self._commits.setdefault(sha, self._repo.get_commit(sha))
        kwargs: dict[str, Any] = {
            "state": state,
            "context": context,
            "description": description[:140],
        }
        if target_url:
            kwargs["target_url"] = target_url
        try:
            commit.create_status(**kwargs)
        except GithubException as exc:
            raise ForgeError(
                f"GitHub refused the status {context!r} on {sha[:12]}: {exc.status}"
            ) from None

    def find_comment(self, number: int, marker: str) -> Comment | None:
        """The comment of PR/issue ``number`` holding ``marker`` (one request per 100 comments)."""
        from github import GithubException

        try:
            for comment in self._repo.get_issue(number).get_comments():
                if marker in (comment.body or ""):
                    return Comment(comment.id, comment.body)
        except GithubException as exc:
            raise ForgeError(f"GitHub refused the comments of #{number}: {exc.status}") from None
        return None

    def upsert_comment(
        self,
        number: int,
        marker: str,
        body: str,
        *,
        found: Comment | None = None,
        looked: bool = False,
    ) -> Comment:
        """The one comment holding ``marker`` on PR/issue ``number``: created once, then edited.

        ``found``/``looked``: the result of an earlier :meth:`find_comment`, to save a request.
        A failed create is looked up again before it is retried, so a 502 that arrives after
        GitHub stored the comment never leaves two of them.
        """
        from github import GithubException

        if marker not in body:
            body = f"{body}\n{marker}"
        if not looked:
            found = self.find_comment(number, marker)
        for attempt in range(2):
            try:
                if found is not None:
                    return self._edit(found.id, body)
                created = self._repo.get_issue(number).create_comment(body)
                return Comment(created.id, created.body)
            except GithubException as exc:
                if exc.status < 500 or attempt == 1:
                    raise ForgeError(
                        f"GitHub refused the comment on #{number}: {exc.status}"
                    ) from None
                found = self.find_comment(number, marker)
        raise ForgeError(f"the comment on #{number} could not be written")

    def _edit(self, comment_id: int, body: str) -> Comment:
        from github.IssueComment import IssueComment

        url = f"{self._repo.url}/issues/comments/{comment_id}"
        comment = IssueComment(self._repo.requester, url=url)  # lazy: no GET before the PATCH
        comment.edit(body)
        return Comment(comment_id, body)

    def pulls(self) -> PullRequests:
        """The pull requests of this repository (:mod:`pipeline.forge.pulls`)."""
        return PullRequests(self._repo, self.full_name)

    # PR comment commands (pipeline.chatops) ---------------------------------------------------

    def role_of(self, login: str) -> str:
        """``login``'s role on this repository: admin, maintain, write, triage, read or none
        (one request; the role name, not the legacy field that folds maintain into write)."""
        from github import GithubException

        try:
            return str(self._repo.get_collaborator_role_name(login))
        except GithubException as exc:
            if exc.status == 404:
                return "none"
            raise ForgeError(f"GitHub refused the permission of {login}: {exc.status}") from None

    def in_team(self, org: str, slug: str, login: str) -> bool:
        """``login`` is an active member of team ``org/slug`` (one request; 404: not a member,
        or the team is invisible to the token, which counts the same)."""
        from github import GithubException

        team = self._gh.get_organization(org).get_team_by_slug(slug)  # lazy: no request
        try:
            return str(team.get_team_membership(login).state) == "active"
        except GithubException as exc:
            if exc.status == 404:
                return False
            raise ForgeError(
                f"GitHub refused the membership of {login} in {org}/{slug}: {exc.status}"
            ) from None

    def file_at(self, path: str, ref: str) -> bytes | None:
        """The content of ``path`` at ``ref`` (a branch name or sha), None when absent."""
        from github import GithubException

        try:
            found = self._repo.get_contents(path, ref=ref)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise ForgeError(f"GitHub refused {path} at {ref}: {exc.status}") from None
        if isinstance(found, list):
            return None  # a folder
        return bytes(found.decoded_content)

    def pull_state(self, number: int, *, reviews: bool = True) -> PullState:
        """Head, state, mergeability and (``reviews``) the latest review of each reviewer: one
        request, two with the reviews."""
        from github import GithubException

        try:
            pull = self._repo.get_pull(number)
            latest: dict[str, tuple[str, str]] = {}
            head = pull.head.sha
            for review in pull.get_reviews() if reviews else ():  # oldest first: later win
                if review.user is not None and review.state in (
                    "APPROVED",
                    "CHANGES_REQUESTED",
                    "DISMISSED",
                ):
                    latest[review.user.login] = (review.state, review.commit_id)
        except GithubException as exc:
            raise ForgeError(f"GitHub refused pull request #{number}: {exc.status}") from None
        return PullState(
            head_sha=head,
            open=pull.state == "open" and not pull.merged,
            mergeable=pull.mergeable,
            approvers=tuple(
                sorted(u for u, (s, sha) in latest.items() if s == "APPROVED" and sha == head)
            ),
            blockers=tuple(sorted(u for u, (s, _) in latest.items() if s == "CHANGES_REQUESTED")),
            base=str(pull.base.ref),
        )

    def pull_commits(self, number: int) -> tuple[str, ...]:
        """The shas of PR ``number``'s commits (one request per 100; GitHub lists 250 at most,
        so a longer PR counts only those)."""
        from github import GithubException
        from github.Commit import Commit as GitCommit
        from github.PaginatedList import PaginatedList

        url = f"{self._repo.url}/pulls/{number}/commits"  # without reading the PR again
        pages = PaginatedList(GitCommit, self._repo.requester, url, {"per_page": 100})
        try:
            return tuple(c.sha for c in pages)
        except GithubException as exc:
            raise ForgeError(
                f"GitHub refused the commits of pull request #{number}: {exc.status}"
            ) from None

    def add_reaction(self, comment_id: int, content: str) -> None:
        """A reaction (eyes, rocket, confused…) on an issue comment (one request)."""
        from github import GithubException
        from github.IssueComment import IssueComment

        url = f"{self._repo.url}/issues/comments/{comment_id}"
        try:
            IssueComment(self._repo.requester, url=url).create_reaction(content)
        except GithubException as exc:
            raise ForgeError(
                f"GitHub refused the reaction on comment {comment_id}: {exc.status}"
            ) from None

    def comments(self, number: int) -> list[Comment]:
        """Every comment of PR/issue ``number`` (one request per 100)."""
        from github import GithubException

        try:
            return [
                Comment(c.id, c.body or "") for c in self._repo.get_issue(number).get_comments()
            ]
        except GithubException as exc:
            raise ForgeError(f"GitHub refused the comments of #{number}: {exc.status}") from None
