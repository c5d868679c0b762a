"""What a publish is asked to do and what it did: plain, frozen values, checked on creation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from pipeline.errors import UserError
from pipeline.forge.pulls import PullRef, Upserted
from pipeline.forge.repo_names import is_repo
from pipeline.secret import Secret

# Matched with fullmatch: "$" would let a trailing newline through.
DAG_ID = re.compile(r"[a-z][a-z0-9_]*")
PROJECT = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # a DNS-1123 label
SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
BRANCH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")

Status = Literal["opened", "updated", "unchanged", "superseded", "planned"]


@dataclass(frozen=True)
class Identity:
    name: str = "somlier-bot"
    email: str = "somlier-bot@users.noreply.github.com"


class PullForge(Protocol):
    """The pull request API a publish needs (:class:`pipeline.forge.pulls.PullRequests`)."""

    def find_open(self, branch: str, base: str | None = None) -> PullRef | None: ...

    def upsert(
        self,
        branch: str,
        base: str,
        *,
        title: str,
        body: str,
        found: PullRef | None = None,
        looked: bool = False,
    ) -> Upserted: ...


def split_credentials(url: str) -> tuple[str, Secret | None]:
    """``https://x-access-token:TOKEN@host/r.git`` → (``https://host/r.git``, TOKEN).

    The token then travels in an HTTP header set through the environment, never in a URL that
    git would store in ``.git/config`` or print in an error.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    _, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, Secret(unquote(password)) if password else None


@dataclass(frozen=True)
class PublishRequest:
    """Publish the DAG files of one project to the dags repository.

    ``files`` is the FULL set of the project's DAGs (``{dag_id: python_source}``): a DAG file
    in ``dags/<project>/`` that is not in it is deleted (unless ``prune`` is off, for one
    DAG made by hand with ``somlier offline create``). ``clone_url`` may carry a token
    (``https://x-access-token:TOKEN@github.com/acme/mlops-dags.git``); it is moved to
    ``token`` at once, so neither ``repr`` nor any command line ever shows it.
    ``source_root``: a checkout of the source repository; when given, a run never overwrites
    the DAGs of a newer source commit (one that has ``source_commit`` as an ancestor).
    """

    clone_url: str
    repo: str  # the dags repository on GitHub, owner/name
    project: str
    source_repo: str  # owner/name
    source_commit: str
    files: Mapping[str, str] = field(repr=False)
    workdir: Path
    forge: PullForge | None = field(default=None, repr=False, compare=False)
    token: Secret | None = None
    base_branch: str | None = None  # None: the dags repository's default branch
    identity: Identity = field(default_factory=Identity)
    source_root: Path | None = None
    prune: bool = True  # False: add or update ``files`` only, keep the folder's other files
    dry_run: bool = False

    def __post_init__(self) -> None:
        url, token = split_credentials(self.clone_url)
        object.__setattr__(self, "clone_url", url)
        if token is not None:
            object.__setattr__(self, "token", token)
        object.__setattr__(self, "files", dict(self.files))
        check_request(self)

    @property
    def branch(self) -> str:
        return f"somlier/{self.project}"

    @property
    def folder(self) -> str:
        return f"dags/{self.project}"


def check_target(base_branch: str | None, clone_url: str, what: str) -> None:
    """Refuse a base branch or a clone URL that git could read as something else (an option,
    a revision expression); ``what`` names the repository in the message."""
    if base_branch is not None and not BRANCH.fullmatch(base_branch):
        raise UserError(f"base branch {base_branch!r} is not a plain branch name")
    if not clone_url or clone_url.startswith("-"):
        raise UserError(f"{what} URL {clone_url!r} is not a URL or a path")


def check_request(request: PublishRequest) -> None:
    """Refuse, before any git command, every value that would land in a path, a ref, a
    command line or a commit message unchecked."""
    if not PROJECT.fullmatch(request.project):
        raise UserError(
            f"project name {request.project!r} is not a DNS-1123 label",
            hint="lower-case letters, digits and '-', at most 63 characters",
        )
    bad = sorted(d for d in request.files if not DAG_ID.fullmatch(d))
    if bad:
        raise UserError(
            f"dag_id {bad[0]!r} of project {request.project} is not allowed",
            hint="a dag_id matches ^[a-z][a-z0-9_]*$",
        )
    for name, value in (("repository", request.repo), ("source repository", request.source_repo)):
        if not is_repo(value):
            raise UserError(f"{name} {value!r} is not written owner/name")
    if not SHA.fullmatch(request.source_commit):
        raise UserError(f"source commit {request.source_commit!r} is not a full hex commit id")
    check_target(request.base_branch, request.clone_url, "dags repository")
    if request.forge is None and not request.dry_run:
        raise UserError(
            "publishing needs a GitHub token to open the pull request",
            hint="set the variable named by github.token_env, or pass --dry-run",
        )


@dataclass(frozen=True)
class Changes:
    """What a tree of DAG files changes against another, by dag_id (or file name, for a file
    in the project's folder that is not a DAG)."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.updated or self.removed)

    def describe(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("updated", self.updated),
                ("removed", self.removed),
            )
            if names
        ]
        return "; ".join(parts) or "no change"


@dataclass(frozen=True)
class PublishResult:
    project: str
    status: Status
    branch: str
    base: str  # the branch the PR goes into
    changes: Changes  # against the base branch: what merging the PR does
    commit: str | None = None  # the commit pushed (or, for a dry run, built)
    pull_number: int | None = None
    pull_url: str | None = None
    attempts: int = 1
    diff: str = ""  # dry run: the diff the PR would carry

    def summary(self) -> str:
        where = f" #{self.pull_number} {self.pull_url}" if self.pull_number else ""
        if self.status == "unchanged":
            return f"{self.project}: DAGs unchanged, no pull request needed"
        if self.status == "superseded":
            return f"{self.project}: a newer source commit is already published; nothing pushed"
        verb = {"opened": "opened", "updated": "updated", "planned": "would open or update"}[
            self.status
        ]
        return f"{self.project}: {verb} the pull request{where} ({self.changes.describe()})"

    def to_json(self) -> dict[str, object]:
        return {
            "project": self.project,
            "status": self.status,
            "branch": self.branch,
            "base": self.base,
            "added": list(self.changes.added),
            "updated": list(self.changes.updated),
            "removed": list(self.changes.removed),
            "commit": self.commit,
            "pull_number": self.pull_number,
            "pull_url": self.pull_url,
            "attempts": self.attempts,
        }
