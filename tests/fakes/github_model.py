"""The fake GitHub's data: users, repositories with a tiny git object model, issues, pulls.

A commit is a whole tree (``{path: bytes}``) plus parents, refs map ``refs/heads/x`` to a
commit: enough for the REST calls we fake. Shas are computed the way git computes them (blob
shas match ``git hash-object``), so a content sha from the fake can be fed back to it.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

ROLES = ("admin", "maintain", "write", "triage", "read")
# the legacy `permission` field folds maintain into write and triage into read
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}

FileChanges = Mapping[str, "str | bytes | None"]


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_sha(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


@dataclass
class User:
    login: str
    id: int
    type: str = "User"
    name: str | None = None
    email: str | None = None
    created_at: str = field(default_factory=utcnow)


@dataclass
class Commit:
    sha: str
    tree: dict[str, bytes]
    parents: tuple[str, ...]
    message: str
    author: User
    date: str

    @property
    def tree_sha(self) -> str:
        entries = "".join(
            f"{path}\0{git_sha('blob', data)}\n" for path, data in sorted(self.tree.items())
        )
        return git_sha("tree", entries.encode())


@dataclass
class Reaction:
    id: int
    content: str
    user: User
    created_at: str


@dataclass
class Comment:
    id: int
    repo: str
    issue_number: int
    body: str
    user: User
    created_at: str
    updated_at: str
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Status:
    id: int
    sha: str
    state: str
    description: str | None
    target_url: str | None
    context: str
    creator: User
    created_at: str


@dataclass
class Review:
    id: int
    user: User
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    commit_id: str
    body: str
    submitted_at: str


@dataclass
class Pull:
    id: int
    head_repo: str
    head_ref: str
    head_sha: str  # last known; the live branch wins while it exists
    base_ref: str
    draft: bool = False
    maintainer_can_modify: bool = True
    merged_at: str | None = None
    mergeable: bool | None = True  # False: conflicts; None: GitHub has not computed it yet
    reviews: list[Review] = field(default_factory=list)


@dataclass
class Issue:
    """An issue, or the issue half of a pull request (``pull`` set)."""

    number: int
    id: int
    title: str
    body: str | None
    user: User
    state: str = "open"
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    closed_at: str | None = None
    labels: list[str] = field(default_factory=list)
    pull: Pull | None = None


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    private: bool
    default_branch: str
    description: str | None
    created_at: str = field(default_factory=utcnow)
    pushed_at: str = field(default_factory=utcnow)
    roles: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    statuses: dict[str, list[Status]] = field(default_factory=dict)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    def resolve(self, ref: str) -> str | None:
        """A commit sha for a sha (or unique prefix of 7+), a full or short ref, or a branch."""
        for candidate in (ref, f"refs/{ref}", f"refs/heads/{ref}", f"refs/tags/{ref}"):
            if candidate in self.refs:
                return self.refs[candidate]
        if ref in self.commits:
            return ref
        if len(ref) >= 7:
            found = [sha for sha in self.commits if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None

    def role_of(self, login: str) -> str | None:
        if login == self.owner.login:
            return "admin"
        return self.roles.get(login)

    def permission_of(self, login: str) -> str:
        role = self.role_of(login)
        if role is not None:
            return role
        return "none" if self.private else "read"

    def association_of(self, login: str) -> str:
        if login == self.owner.login:
            return "OWNER"
        return "COLLABORATOR" if login in self.roles else "NONE"

    def ancestors(self, sha: str) -> set[str]:
        seen: set[str] = set()
        todo = [sha]
        while todo:
            current = todo.pop()
            if current in seen or current not in self.commits:
                continue
            seen.add(current)
            todo.extend(self.commits[current].parents)
        return seen

    def pull_head_sha(self, pull: Pull, repos: Mapping[str, Repo]) -> str:
        head = repos.get(pull.head_repo)
        live = head.refs.get(f"refs/heads/{pull.head_ref}") if head else None
        return live or pull.head_sha


def diff_trees(old: dict[str, bytes], new: dict[str, bytes]) -> list[dict[str, Any]]:
    """The changed files between two trees, as GitHub lists a commit's files."""
    files = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        a = (before or b"").decode(errors="replace").splitlines()
        b = (after or b"").decode(errors="replace").splitlines()
        diff = list(difflib.unified_diff(a, b, lineterm="", n=0))
        added = sum(line.startswith("+") and not line.startswith("+++") for line in diff)
        removed = sum(line.startswith("-") and not line.startswith("---") for line in diff)
        status = "added" if before is None else "removed" if after is None else "modified"
        files.append(
            {
                "sha": git_sha("blob", after or before or b""),
                "filename": path,
                "status": status,
                "additions": added,
                "deletions": removed,
                "changes": added + removed,
            }
        )
    return files
