"""Run the accepted commands through an injected action table, one after the other.

Right before each action starts, the pull request's head is read again: when it moved since the
command was accepted (someone pushed after the comment), the command is aborted, so what runs is
always what the commenter saw. A prod deploy also has its approval read again, right before it
starts and (through :attr:`ActionContext.recheck`) right before its push to the deploy
repository: a dismissed approval, a new push or a changed base branch aborts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.chatops.decide import Accepted, CommentEvent, Refused, Verdict, is_prod_deploy
from pipeline.chatops.feedback import Feedback
from pipeline.chatops.parse import Command, help_text
from pipeline.errors import SomlierError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionContext:
    repo: str
    number: int
    head_sha: str  # the commit to act on: the PR head the command was accepted on
    log: Callable[[str], None]
    # raises Withdrawn when what the command was accepted on no longer holds (prod deploys)
    recheck: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)


class Withdrawn(SomlierError):
    """The approval a prod deploy was accepted on was withdrawn before its push."""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    summary: str  # Markdown, for the reply
    details: dict[str, Any] = field(default_factory=dict)


Action = Callable[[Command, ActionContext], ActionResult]


@dataclass(frozen=True)
class Outcome:
    command: Command
    state: str  # refused, help, done, failed, aborted
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state in ("done", "help")

    def to_json(self) -> dict[str, Any]:
        return {
            **self.command.to_json(),
            "state": self.state,
            "message": self.message,
            **({"details": self.details} if self.details else {}),
        }


Recheck = Callable[[Accepted], str | None]  # why an accepted prod deploy no longer holds


def run(
    event: CommentEvent,
    verdicts: Sequence[Verdict],
    *,
    actions: Mapping[str, Action],
    current_head: Callable[[], str],
    feedback: Feedback,
    log: Callable[[str], None],
    recheck: Recheck | None = None,
) -> list[Outcome]:
    outcomes = []
    for item in verdicts:
        outcome = _one(event, item, actions, current_head, feedback, log, recheck)
        feedback.reply(outcome.command, outcome.state, outcome.message)
        outcomes.append(outcome)
    return outcomes


def _one(
    event: CommentEvent,
    item: Verdict,
    actions: Mapping[str, Action],
    current_head: Callable[[], str],
    feedback: Feedback,
    log: Callable[[str], None],
    recheck: Recheck | None = None,
) -> Outcome:
    command = item.command
    if command.unknown:
        return Outcome(command, "failed", f"unknown command /{command.name}\n\n{help_text()}")
    if isinstance(item, Refused):
        return Outcome(command, "refused", f"{item.reason}\n\nNothing was changed.")
    assert isinstance(item, Accepted)
    if command.name == "help":
        return Outcome(command, "help", help_text())
    action = actions.get(command.name)
    if action is None:
        return Outcome(command, "failed", f"/{command.name} is not available on this server")
    feedback.reply(command, "running", f"accepted on `{item.head_sha[:12]}`, running…")
    head = current_head()
    if head != item.head_sha:
        return Outcome(
            command,
            "aborted",
            f"the pull request's head moved from `{item.head_sha[:12]}` to `{head[:12]}` "
            "after the command was accepted; nothing was run. Comment again to act on the "
            "new head.",
        )
    if is_prod_deploy(command) and recheck is None:
        return Outcome(command, "failed", "a prod deploy cannot be checked again here")
    guard = _guard(recheck, item) if is_prod_deploy(command) and recheck else _no_check
    context = ActionContext(event.repo, event.number, item.head_sha, log, recheck=guard)
    try:
        guard()  # before anything is built; the deploy calls it again right before its push
        result = action(command, context)
    except Withdrawn as exc:
        return Outcome(
            command,
            "aborted",
            f"{exc.message}: the prod deploy was stopped before it was pushed, nothing was "
            "changed. Get the pull request approved again, then comment again.",
        )
    except SomlierError as exc:
        text = exc.message + (f"\n\nhint: {exc.hint}" if exc.hint else "")
        return Outcome(command, "failed", text)
    except Exception as exc:  # a bug: said in the reply, with the details in the log
        LOG.exception("/%s failed", command.name)
        return Outcome(
            command, "failed", f"internal error ({type(exc).__name__}): see the somlier log"
        )
    return Outcome(command, "done" if result.ok else "failed", result.summary, result.details)


def _no_check() -> None:
    return None


def _guard(recheck: Recheck, item: Accepted) -> Callable[[], None]:
    def guard() -> None:
        reason = recheck(item)
        if reason is not None:
            raise Withdrawn(reason)

    return guard


def reaction_for(outcomes: Sequence[Outcome]) -> str:
    return "rocket" if outcomes and all(o.ok for o in outcomes) else "confused"
