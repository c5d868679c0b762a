"""Pull requests through PyGithub: one open PR per head branch, created once, then edited.

Like :mod:`pipeline.forge.github`, objects are lazy: finding the PR of a branch is one list
request (GitHub filters by ``head``), editing it is one PATCH with no GET before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.forge.forge_error import ForgeError


@dataclass(frozen=True)
class PullRef:
    """An open pull request, as much of it as a publisher needs."""

    number: int
    url: str  # the page a person opens (html_url)
    base: str


@dataclass(frozen=True)
class PullState:
    """A pull request as a permission check sees it."""

    head_sha: str
    open: bool
    mergeable: bool | None  # None: GitHub has not computed it yet
    approvers: tuple[str, ...] = ()  # reviewers whose latest review approves the head commit
    blockers: tuple[str, ...] = ()  # reviewers whose latest review requests changes
    base: str = ""  # the branch it merges into


@dataclass(frozen=True)
class Upserted:
    pull: PullRef
    created: bool


def _already_exists(exc: Any) -> bool:
    """GitHub's 422 for a second open PR with the same head and base."""
    data = exc.data if isinstance(exc.data, dict) else {}
    messages = [str(data.get("message", ""))]
    messages += [str(e.get("message", "")) for e in data.get("errors", []) if isinstance(e, dict)]
    return exc.status == 422 and any("already exists" in m for m in messages)


class PullRequests:
    """The pull requests of one repository (a PyGithub ``Repository``, lazy or not).

    Build it with :meth:`pipeline.forge.github.GitHubRepo.pulls`.
    """

    def __init__(self, repo: Any, full_name: str) -> None:
        self._repo = repo
        self.full_name = full_name
        self.owner = full_name.split("/", 1)[0]

    def find_open(self, branch: str, base: str | None = None) -> PullRef | None:
        """The open PR whose head is ``branch`` of this repository (one request).

        ``head`` is written ``owner:branch``: GitHub ignores the filter in any other form and
        would list every open PR. With two open PRs from the branch (into different bases), the
        one into ``base`` wins, then the oldest.
        """
        from github import GithubException

        try:
            found = [
                PullRef(p.number, p.html_url, p.base.ref)
                for p in self._repo.get_pulls(state="open", head=f"{self.owner}:{branch}")
            ]
        except (GithubException, OSError) as exc:
            raise ForgeError(
                f"GitHub refused the pull requests of {self.full_name}: {_status(exc)}"
            ) from None
        found.sort(key=lambda p: (p.base != base, p.number))
        return found[0] if found else None

    def update(self, number: int, *, title: str, body: str) -> None:
        from github import GithubException
        from github.PullRequest import PullRequest

        url = f"{self._repo.url}/pulls/{number}"
        pull = PullRequest(self._repo.requester, url=url)  # lazy: no GET before the PATCH
        try:
            pull.edit(title=title, body=body)
        except (GithubException, OSError) as exc:
            raise ForgeError(
                f"GitHub refused the update of {self.full_name}#{number}: {_status(exc)}"
            ) from None

    def upsert(
        self,
        branch: str,
        base: str,
        *,
        title: str,
        body: str,
        found: PullRef | None = None,
        looked: bool = False,
    ) -> Upserted:
        """The one open PR from ``branch`` into ``base``: edited when it exists, else created.

        ``found``/``looked``: the result of an earlier :meth:`find_open`, to save a request.
        A create answered 422 "already exists" (another run created it a moment ago) edits that
        PR instead; a create that failed late (5xx, a lost connection) is looked up again before
        it is retried, so it never leaves two PRs.
        """
        from github import GithubException

        if not looked:
            found = self.find_open(branch, base)
        for attempt in range(2):
            if found is not None:
                self.update(found.number, title=title, body=body)
                return Upserted(found, created=False)
            try:
                pull = self._repo.create_pull(base=base, head=branch, title=title, body=body)
                return Upserted(PullRef(pull.number, pull.html_url, base), created=True)
            except (GithubException, OSError) as exc:
                status = getattr(exc, "status", 0)
                late = isinstance(exc, OSError) or status >= 500
                if not (_already_exists(exc) or late) or attempt == 1:
                    raise ForgeError(
                        f"GitHub refused the pull request from {branch} into {base} "
                        f"of {self.full_name}: {_status(exc)}",
                        hint=_hint(exc),
                    ) from None
            found = self.find_open(branch, base)
        raise ForgeError(f"the pull request from {branch} could not be written")


def _status(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    if status is None:
        return f"no answer ({type(exc).__name__})"
    data = getattr(exc, "data", None)
    message = data.get("message") if isinstance(data, dict) else None
    errors = data.get("errors") if isinstance(data, dict) else None
    details = [str(e.get("message")) for e in errors or () if isinstance(e, dict)]
    text = "; ".join(str(part) for part in (message, *details) if part)
    return f"{status} {text}".strip()


def _hint(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    if status in (401, 403):
        return "the token needs the pull_requests:write and contents:write permissions"
    if status == 404:
        return "check github.dags_repo and that the token can see the repository"
    return ""
