"""One comment event, start to end: the code path shared by GitHub Actions (``somlier pipeline
event``) and the webhook receiver (``POST /webhooks/github``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.chatops import dispatch
from pipeline.chatops.decide import (
    Accepted,
    CommentEvent,
    Ignored,
    Refused,
    Verdict,
    classify,
    decide,
    needs_approval,
    needs_facts,
    prod_versions,
    relevant_scopes,
    verdict_json,
)
from pipeline.chatops.feedback import FAILED, RECEIVED, Feedback, WriteForge
from pipeline.chatops.permissions import Facts, Provenance, ReadForge, gather, withdrawn
from pipeline.errors import SomlierError, UserError


class ChatForge(ReadForge, WriteForge, Protocol):
    """The GitHub calls of the whole flow (:class:`pipeline.forge.github.GitHubRepo`)."""


@dataclass(frozen=True)
class Report:
    ignored: str | None = None
    event: CommentEvent | None = None
    verdicts: tuple[Verdict, ...] = ()
    outcomes: tuple[dispatch.Outcome, ...] = ()
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every command ran and succeeded (an ignored event is fine; a refusal is not)."""
        if self.ignored is not None:
            return True
        if self.dry_run:
            return all(verdict_json(v)["decision"] == "planned" for v in self.verdicts)
        return all(o.ok for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        if self.ignored is not None or self.event is None:
            return {"ignored": True, "reason": self.ignored}
        event = self.event
        commands = [verdict_json(v) for v in self.verdicts]
        for data, outcome in zip(commands, self.outcomes, strict=False):
            data.update(outcome.to_json())
        return {
            "ignored": False,
            "repo": event.repo,
            "pr": event.number,
            "comment_id": event.comment_id,
            "user": event.login,
            "dry_run": self.dry_run,
            "commands": commands,
        }


def handle(
    name: str,
    payload: dict[str, Any],
    *,
    forge_for: Callable[[str], ChatForge] | None,
    actions: Mapping[str, dispatch.Action],
    dry_run: bool,
    log: Callable[[str], None],
    provenance: Provenance | None = None,
) -> Report:
    """Classify, check, answer and run the commands of one event.

    ``forge_for(repo)``: the GitHub client of the repository, or None without a token (then
    only events that need no API call can be handled). ``dry_run``: read, decide and report;
    no reaction, no reply, no action. ``provenance(model, version)``: the commits a model
    version was built from (its MLflow run's tags); without it no prod deploy is accepted.
    """
    event = classify(name, payload)
    if isinstance(event, Ignored):
        return Report(ignored=event.reason)
    forge = forge_for(event.repo) if forge_for is not None else None
    if forge is None and (needs_facts(event) or not dry_run):
        raise UserError(
            "a PR comment command needs a GitHub token",
            hint="set the variable named by github.token_env (GITHUB_TOKEN by default)",
        )
    feedback = Feedback(None if dry_run else forge, event, log=log)
    feedback.react(RECEIVED)
    facts = None
    if needs_facts(event):
        assert forge is not None
        projects, environments = relevant_scopes(event)
        try:
            facts = gather(
                forge,
                login=event.login,
                number=event.number,
                default_branch=event.default_branch,
                org=event.org,
                projects=projects,
                environments=environments,
                need_approval=needs_approval(event),
                versions=prod_versions(event),
                provenance=provenance,
            )
        except SomlierError as exc:
            if dry_run:
                raise
            return _unreadable(event, feedback, exc)
    verdicts = tuple(decide(event, facts))
    if dry_run:
        return Report(event=event, verdicts=verdicts, dry_run=True)
    assert forge is not None
    return _run(event, verdicts, forge, facts, actions=actions, feedback=feedback, log=log)


def _run(
    event: CommentEvent,
    verdicts: tuple[Verdict, ...],
    forge: ChatForge,
    facts: Facts | None,
    *,
    actions: Mapping[str, dispatch.Action],
    feedback: Feedback,
    log: Callable[[str], None],
) -> Report:
    """Run the accepted commands, each on the head it was accepted on; react with the result."""

    def current_head() -> str:
        return forge.pull_state(event.number, reviews=False).head_sha

    def recheck(item: Accepted) -> str | None:
        assert facts is not None
        return withdrawn(forge, event.number, facts, event.default_branch)

    outcomes = dispatch.run(
        event,
        verdicts,
        actions=actions,
        current_head=current_head,
        feedback=feedback,
        log=log,
        recheck=recheck,
    )
    feedback.react(dispatch.reaction_for(outcomes))
    return Report(event=event, verdicts=verdicts, outcomes=tuple(outcomes))


def _unreadable(event: CommentEvent, feedback: Feedback, exc: SomlierError) -> Report:
    """GitHub could not say who may do what: every command fails, nothing runs."""
    why = f"GitHub could not be read ({exc.message}); nothing was run. Comment again later."
    verdicts = tuple(Refused(c, why) for c in event.commands)
    outcomes = tuple(dispatch.Outcome(c, "failed", why) for c in event.commands)
    for outcome in outcomes:
        feedback.reply(outcome.command, outcome.state, outcome.message)
    feedback.react(FAILED)
    return Report(event=event, verdicts=verdicts, outcomes=outcomes)


@dataclass(frozen=True)
class CommentHandler:
    """:func:`handle` bound to what the edge wired: the GitHub clients, the action table, the
    log and the provenance reader. Called as ``handler(event, payload)`` by the webhook
    receiver's worker; :meth:`ignored` is its fast classifier (no I/O)."""

    forge_for: Callable[[str], ChatForge] | None
    actions: Mapping[str, dispatch.Action]
    log: Callable[[str], None]
    provenance: Provenance | None = None

    def __call__(self, name: str, payload: dict[str, Any], *, dry_run: bool = False) -> Report:
        return handle(
            name,
            payload,
            forge_for=self.forge_for,
            actions=self.actions,
            dry_run=dry_run,
            log=self.log,
            provenance=self.provenance,
        )

    def ignored(self, name: str, payload: dict[str, Any]) -> str | None:
        """Why the event is ignored, or None when it is handled."""
        found = classify(name, payload)
        return found.reason if isinstance(found, Ignored) else None
