"""Payload variations of the real issue_comment fixture, and an in-memory GitHub for the
chatops unit tests (records every read and every write)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from pipeline.chatops.dispatch import ActionContext, ActionResult
from pipeline.chatops.parse import Command
from pipeline.forge.github import Comment
from pipeline.forge.pulls import PullState
from tests.helpers.data import webhook_payload

REPO = "acme/ml-projects"
HEAD = "a" * 40


@cache
def _fixture() -> dict[str, Any]:
    return webhook_payload("issue_comment.created")


def comment_payload(
    body: str,
    *,
    login: str = "alice",
    action: str = "created",
    user_type: str = "User",
    on_pull: bool = True,
    number: int = 7,
    comment_id: int = 555,
) -> dict[str, Any]:
    data = copy.deepcopy(_fixture())
    data["action"] = action
    data["comment"]["body"] = body
    data["comment"]["id"] = comment_id
    for who in (data["comment"]["user"], data["sender"]):
        who["login"], who["type"] = login, user_type
    data["issue"]["number"] = number
    if on_pull:
        data["issue"]["pull_request"] = {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
            "html_url": f"https://github.com/{REPO}/pull/{number}",
            "diff_url": f"https://github.com/{REPO}/pull/{number}.diff",
            "patch_url": f"https://github.com/{REPO}/pull/{number}.patch",
        }
    data["repository"]["full_name"] = REPO
    data["repository"]["default_branch"] = "main"
    return data


@dataclass
class MemoryForge:
    """What GitHub knows: roles, team members, files per ref, the PR."""

    roles: dict[str, str] = field(default_factory=lambda: {"alice": "write"})
    teams: set[tuple[str, str, str]] = field(default_factory=set)  # (org, slug, login)
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (path, ref) → content
    pull: PullState = field(
        default_factory=lambda: PullState(HEAD, True, True, ("bob",), base="main")
    )
    commits: tuple[str, ...] = (HEAD,)  # the PR's commits
    heads: list[str] = field(default_factory=list)  # later reads of the head, in order
    reads: list[tuple[Any, ...]] = field(default_factory=list)
    writes: list[tuple[Any, ...]] = field(default_factory=list)
    stored: dict[int, Comment] = field(default_factory=dict)

    def role_of(self, login: str) -> str:
        self.reads.append(("role", login))
        return self.roles.get(login, "read")

    def in_team(self, org: str, slug: str, login: str) -> bool:
        self.reads.append(("team", org, slug, login))
        return (org, slug, login) in self.teams

    def file_at(self, path: str, ref: str) -> bytes | None:
        self.reads.append(("file", path, ref))
        return self.files.get((path, ref))

    def pull_state(self, number: int, *, reviews: bool = True) -> PullState:
        self.reads.append(("pull", number))
        if self.heads and any(r == ("pull", number) for r in self.reads[:-1]):
            return replace(self.pull, head_sha=self.heads.pop(0))
        return self.pull

    def pull_commits(self, number: int) -> tuple[str, ...]:
        self.reads.append(("commits", number))
        return self.commits

    def add_reaction(self, comment_id: int, content: str) -> None:
        self.writes.append(("reaction", comment_id, content))

    def comments(self, number: int) -> list[Comment]:
        self.reads.append(("comments", number))
        return list(self.stored.values())

    def upsert_comment(
        self,
        number: int,
        marker: str,
        body: str,
        *,
        found: Comment | None = None,
        looked: bool = False,
    ) -> Comment:
        ident = found.id if found is not None else 9000 + len(self.stored)
        self.writes.append(("edit" if found else "create", ident, body))
        self.stored[ident] = Comment(ident, body)
        return self.stored[ident]

    @property
    def reactions(self) -> list[str]:
        return [w[2] for w in self.writes if w[0] == "reaction"]

    @property
    def replies(self) -> list[str]:
        return [c.body for c in self.stored.values()]


class Recorder:
    """A fake action table: records what ran, answers ok (or raises ``error``)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.ran: list[tuple[str, str, str]] = []
        self.error = error

    def __call__(self, command: Command, ctx: ActionContext) -> ActionResult:
        self.ran.append((command.name, command.text, ctx.head_sha))
        if self.error is not None:
            raise self.error
        return ActionResult(True, f"did {command.text}", {"name": command.name})

    def table(self) -> dict[str, Any]:
        return {name: self for name in ("deploy", "build", "dag", "rollback")}
