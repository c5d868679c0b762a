"""What the commenter sees: a reaction on their comment (eyes on receipt, then rocket when every
command succeeded, confused otherwise) and one reply per command, found again by a hidden marker
and edited in place as the command moves on (accepted → running → done, or refused)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pipeline.chatops.decide import MARKER_PREFIX, CommentEvent

if TYPE_CHECKING:
    from pipeline.chatops.parse import Command
    from pipeline.forge.github import Comment

RECEIVED, SUCCEEDED, FAILED = "eyes", "rocket", "confused"


class WriteForge(Protocol):
    def add_reaction(self, comment_id: int, content: str) -> None: ...

    def comments(self, number: int) -> list[Comment]: ...

    def upsert_comment(
        self,
        number: int,
        marker: str,
        body: str,
        *,
        found: Comment | None = None,
        looked: bool = False,
    ) -> Comment: ...


def marker(event: CommentEvent, command: Command) -> str:
    return f"{MARKER_PREFIX} comment={event.comment_id} command={command.index} -->"


def reply_body(event: CommentEvent, command: Command, state: str, text: str) -> str:
    """``state``: one of refused, accepted, running, done, failed, aborted, help."""
    icon = {
        "refused": "⛔",
        "accepted": "👀",
        "running": "⏳",
        "done": "✅",
        "failed": "❌",
        "aborted": "⚠️",
        "help": "ℹ️",
    }[state]
    head = f"{icon} `{command.text}` (@{event.login}): **{state}**"
    return f"{head}\n\n{text}\n\n{marker(event, command)}"


class Feedback:
    """Reactions and replies for one comment. ``forge=None``: record only (``--dry-run``)."""

    def __init__(
        self, forge: WriteForge | None, event: CommentEvent, *, log: Callable[[str], None]
    ) -> None:
        self._forge = forge
        self._event = event
        self._log = log
        self._existing: dict[str, Comment] | None = None
        self.replies: dict[int, str] = {}  # command index → the last body written

    def react(self, content: str) -> None:
        if self._forge is not None:
            self._forge.add_reaction(self._event.comment_id, content)

    def reply(self, command: Command, state: str, text: str) -> None:
        body = reply_body(self._event, command, state, text)
        self.replies[command.index] = body
        self._log(f"{command.text}: {state}: {text.splitlines()[0] if text else ''}")
        if self._forge is None:
            return
        key = marker(self._event, command)
        if self._existing is None:  # one listing for all the replies of this comment
            self._existing = {
                found: c
                for c in self._forge.comments(self._event.number)
                if (found := _marker_in(c.body)) is not None
            }
        written = self._forge.upsert_comment(
            self._event.number, key, body, found=self._existing.get(key), looked=True
        )
        self._existing[key] = written


def _marker_in(body: str) -> str | None:
    start = body.find(MARKER_PREFIX)
    if start < 0:
        return None
    end = body.find("-->", start)
    return body[start : end + 3] if end >= 0 else None
