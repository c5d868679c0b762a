"""What a comment asks, and whether it may (pure: payload and facts in, decision out).

:func:`classify` needs nothing but the payload: edits, deletions, bots, issues that are not pull
requests and comments without a command are ignored before any API call. :func:`decide` takes
the facts read from the API (:mod:`pipeline.chatops.permissions`) and accepts or refuses each
command; an accepted command carries the head SHA it was accepted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.chatops.parse import Command, parse_comment, shown
from pipeline.chatops.permissions import OWNERS_PATH, WRITE_ROLES, Facts, allowed
from pipeline.online.model_names import model_key, spelling_clash

MARKER_PREFIX = "<!-- somlier:chatops"
_BOT_TYPES = frozenset({"Bot", "Organization"})


@dataclass(frozen=True)
class CommentEvent:
    repo: str  # owner/name
    number: int  # the pull request
    comment_id: int
    login: str  # the commenter
    default_branch: str
    commands: tuple[Command, ...]

    @property
    def org(self) -> str:
        return self.repo.split("/", 1)[0]


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class Accepted:
    command: Command
    head_sha: str  # the PR head when the command was accepted; the work checks it again


@dataclass(frozen=True)
class Refused:
    command: Command
    reason: str


Verdict = Accepted | Refused


def _field(payload: Any, *keys: str) -> Any:
    for key in keys:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def classify(name: str, payload: dict[str, Any]) -> CommentEvent | Ignored:
    """The comment's commands, or why the event is none of our business."""
    if name != "issue_comment":
        return Ignored(f"event {name!r} is not a PR comment")
    action = _field(payload, "action")
    if action != "created":
        return Ignored(f"issue_comment action {action!r}: only new comments count")
    if not isinstance(_field(payload, "issue", "pull_request"), dict):
        return Ignored("a comment on an issue, not on a pull request")
    user = _field(payload, "comment", "user") or {}
    sender = _field(payload, "sender") or {}
    login = user.get("login")
    if user.get("type") in _BOT_TYPES or sender.get("type") in _BOT_TYPES:
        return Ignored(f"a comment by the bot {shown(str(login))!r}")
    if not isinstance(login, str) or str(login).endswith("[bot]"):
        return Ignored(f"a comment by the bot {shown(str(login))!r}")
    body = _field(payload, "comment", "body")
    if not isinstance(body, str) or MARKER_PREFIX in body:
        return Ignored("a reply of somlier itself")
    commands = parse_comment(body)
    if not commands:
        return Ignored("no command in the comment")
    repo = _field(payload, "repository", "full_name")
    number = _field(payload, "issue", "number")
    comment_id = _field(payload, "comment", "id")
    branch = _field(payload, "repository", "default_branch")
    if not (isinstance(repo, str) and isinstance(number, int) and isinstance(comment_id, int)):
        return Ignored("the payload lacks repository.full_name, issue.number or comment.id")
    if not isinstance(branch, str) or not branch:
        return Ignored("the payload lacks repository.default_branch")
    return CommentEvent(repo, number, comment_id, login, branch, tuple(commands))


def needs_facts(event: CommentEvent) -> bool:
    """False when every command is refused or answered as written (no API read needed)."""
    return any(c.error is None and c.name != "help" for c in event.commands)


def _scope_of(command: Command, facts: Facts) -> tuple[list[str], str | None]:
    """The canonical project names and the environment a command acts on."""
    if command.name in ("deploy", "rollback"):
        return [model_key(str(command.model))], command.env
    if command.projects:
        return [model_key(p) for p in command.projects], None
    # no project named: the PR's changed projects, which may include any restricted one
    return sorted(facts.owners.projects), None


def verdict(event: CommentEvent, command: Command, facts: Facts | None) -> Verdict:
    """Accept or refuse one command. ``facts`` may be None only when no check needs them."""
    if command.error is not None:
        return Refused(command, command.error)
    if command.name == "help":
        return Accepted(command, facts.pull.head_sha if facts else "")
    assert facts is not None
    who = f"@{event.login}"
    if not facts.pull.open:
        return Refused(command, "the pull request is closed")
    if facts.role not in WRITE_ROLES:
        return Refused(
            command,
            f"{who} has {facts.role!r} permission on {event.repo}; /{command.name} needs "
            "write, maintain or admin",
        )
    if facts.owners.error is not None:
        return Refused(command, facts.owners.error)
    projects, env = _scope_of(command, facts)
    for name in projects:
        listed = facts.owners.spelled.get(name, name)
        if name in facts.owners.projects and not allowed(
            facts.owners.projects[name], event.login, facts.teams
        ):
            return Refused(command, f"{who} is not on the allowlist of project {listed!r}")
        if command.model is not None and name in facts.owners.spelled and listed != command.model:
            # another spelling of a listed model: one folder, branch and allowlist for both
            return Refused(command, spelling_clash(command.model, listed, OWNERS_PATH).message)
    envs = facts.owners.environments
    if env is not None and env in envs and not allowed(envs[env], event.login, facts.teams):
        return Refused(command, f"{who} is not on the allowlist of environment {env!r}")
    if command.name == "deploy" and command.env == "prod":
        if facts.pull.base != event.default_branch:
            return Refused(
                command,
                f"a prod deploy needs a pull request into the default branch "
                f"{event.default_branch!r}; this one targets {facts.pull.base!r}",
            )
        if not facts.approved:
            return Refused(
                command,
                "a prod deploy needs a pull request whose head commit is approved by a "
                "reviewer with write access, and no review requesting changes",
            )
        if facts.pull.mergeable is not True:
            return Refused(command, "a prod deploy needs a mergeable pull request")
        outside = _not_from_this_pull(command, facts)
        if outside is not None:
            return Refused(command, outside)
    return Accepted(command, facts.pull.head_sha)


def _not_from_this_pull(command: Command, facts: Facts) -> str | None:
    """Why the PR's approval does not cover this model version (None: it does). It covers the
    versions whose MLflow run was made from a commit of this PR (run tags ``somlier.commit``,
    ``mlflow.source.git.commit``; every one present must be a commit of the PR)."""
    what = f"{command.model} version {command.version}"
    built = facts.sources.get((str(command.model), str(command.version)), "it was not read")
    covers = (
        "the approval of a pull request covers only model versions registered from a run of "
        "one of its commits (run tag somlier.commit or mlflow.source.git.commit)"
    )
    if isinstance(built, str):
        return f"cannot tell which commit {what} was built from ({built}); {covers}"
    if not built:
        return f"{what} records no commit it was built from; {covers}"
    foreign = [sha for sha in built if sha not in facts.commits]
    if foreign:
        where = f"`{foreign[0][:12]}`, not a commit of this pull request"
        return f"{what} was built from {where}; {covers}"
    return None


def decide(event: CommentEvent, facts: Facts | None) -> list[Verdict]:
    return [verdict(event, command, facts) for command in event.commands]


def verdict_json(item: Verdict) -> dict[str, Any]:
    data = item.command.to_json()
    if isinstance(item, Refused):
        data.update(decision="refused", reason=item.reason)
    else:
        data["decision"] = "planned"
        if item.head_sha:  # /help alone reads nothing, so has no head
            data["head_sha"] = item.head_sha
    return data


def is_prod_deploy(command: Command) -> bool:
    return command.error is None and command.name == "deploy" and command.env == "prod"


def needs_approval(event: CommentEvent) -> bool:
    return any(is_prod_deploy(c) for c in event.commands)


def prod_versions(event: CommentEvent) -> list[tuple[str, str]]:
    """The (model, version) pairs of the comment's prod deploys: whose origin is read."""
    return [(str(c.model), str(c.version)) for c in event.commands if is_prod_deploy(c)]


def relevant_scopes(event: CommentEvent) -> tuple[set[str], set[str]]:
    """Projects and environments the commands name (which allowlists' teams to look up)."""
    projects: set[str] = set()
    envs: set[str] = set()
    for command in event.commands:
        if command.error is not None or command.name == "help":
            continue
        if command.name in ("deploy", "rollback"):
            projects.add(model_key(str(command.model)))
            envs.add(command.env)
        else:
            projects.update({model_key(p) for p in command.projects} or {"*"})
    return projects, envs
