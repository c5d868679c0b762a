"""Who may run what: the commenter's repository permission (from the API) and the allowlists of
``.somlier/OWNERS.yaml``, read from the default branch, never from the pull request's branch.

The file (optional)::

    projects:                 # per project (for /deploy and /rollback: the model's name)
      churn:
        users: [alice, bob]
        teams: [acme/ml-churn]   # org/team-slug; a bare slug means the repository's owner org
    environments:             # per environment of /deploy and /rollback
      prod:
        users: [alice]
        teams: [acme/sre]

Project and model names are matched on their canonical form
(:func:`pipeline.online.model_names.model_key`: case and separators folded, as the deploy folder and
branch are named), so ``CHURN-MODEL`` and ``churn_model`` fall under the entry of
``churn-model``; two entries with one canonical form make the file invalid.

A project or environment without an entry is open to everyone with write, maintain or admin
permission; one with an entry is open only to the users and team members it lists. A file that
does not parse refuses every command (it never falls open).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.errors import SomlierError
from pipeline.forge.pulls import PullState
from pipeline.online.model_names import model_key

OWNERS_PATH = ".somlier/OWNERS.yaml"
WRITE_ROLES = frozenset({"write", "maintain", "admin"})
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_TEAM = re.compile(r"(?:([A-Za-z0-9][A-Za-z0-9-]*)/)?([A-Za-z0-9][A-Za-z0-9_.-]*)")


@dataclass(frozen=True)
class Allowlist:
    users: frozenset[str] = frozenset()
    teams: tuple[tuple[str, str], ...] = ()  # (org, slug)


@dataclass(frozen=True)
class Owners:
    projects: dict[str, Allowlist] = field(default_factory=dict)  # by canonical name
    spelled: dict[str, str] = field(default_factory=dict)  # canonical name -> as in the file
    environments: dict[str, Allowlist] = field(default_factory=dict)
    error: str | None = None  # the file is broken: every command is refused with this


class OwnersError(SomlierError):
    pass


def parse_owners(text: bytes | None, default_org: str) -> Owners:
    """The allowlists of an OWNERS file (``None``: no file, nothing restricted)."""
    if text is None:
        return Owners()
    from pipeline.config import yamlsafe

    try:
        data = yamlsafe.load_text(text, OWNERS_PATH).data
        written = _section(data, "projects", default_org)
        spelled: dict[str, str] = {}
        for name in written:
            key = model_key(name)
            if key in spelled:
                raise ValueError(
                    f"projects {spelled[key]!r} and {name!r} differ only in case or "
                    "separators: they name one model"
                )
            spelled[key] = name
        return Owners(
            projects={model_key(name): allow for name, allow in written.items()},
            spelled=spelled,
            environments=_section(data, "environments", default_org),
        )
    except (SomlierError, ValueError) as exc:
        message = exc.message if isinstance(exc, SomlierError) else str(exc)
        return Owners(error=f"{OWNERS_PATH} on the default branch is invalid: {message}")


def _section(data: dict[str, Any], key: str, org: str) -> dict[str, Allowlist]:
    unknown = set(data) - {"projects", "environments"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} (projects, environments)")
    section = data.get(key) or {}
    if not isinstance(section, dict):
        raise ValueError(f"{key} must be a mapping")
    return {str(name): _allowlist(f"{key}.{name}", spec, org) for name, spec in section.items()}


def _allowlist(where: str, spec: Any, org: str) -> Allowlist:
    if not isinstance(spec, dict) or set(spec) - {"users", "teams"}:
        raise ValueError(f"{where} must be a mapping of users: and teams:")
    users, teams = spec.get("users") or [], spec.get("teams") or []
    if not isinstance(users, list) or not isinstance(teams, list):
        raise ValueError(f"{where}: users and teams are lists")
    for user in users:
        if not isinstance(user, str) or not _LOGIN.fullmatch(user):
            raise ValueError(f"{where}.users: {user!r} is not a GitHub login")
    parsed = []
    for team in teams:
        match = _TEAM.fullmatch(team) if isinstance(team, str) else None
        if match is None:
            raise ValueError(f"{where}.teams: {team!r} is not org/team-slug")
        parsed.append(((match.group(1) or org).lower(), match.group(2).lower()))
    return Allowlist(frozenset(u.lower() for u in users), tuple(parsed))


class ReadForge(Protocol):
    """The read calls the decision needs (``pipeline.forge.github.GitHubRepo`` has them)."""

    def role_of(self, login: str) -> str: ...

    def in_team(self, org: str, slug: str, login: str) -> bool: ...

    def file_at(self, path: str, ref: str) -> bytes | None: ...

    def pull_state(self, number: int, *, reviews: bool = True) -> PullState: ...

    def pull_commits(self, number: int) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Facts:
    role: str  # the commenter's role on the repository: admin, maintain, write, triage, read, none
    owners: Owners
    teams: frozenset[tuple[str, str]]  # the teams named in the allowlists the commenter is in
    pull: PullState
    approved_by: tuple[str, ...] = ()  # approvers of the head who have write access
    commits: frozenset[str] = frozenset()  # the PR's commits (read for a prod deploy only)
    # (model, version) -> the commits its MLflow run was made from, or why they are unknown
    sources: Mapping[tuple[str, str], tuple[str, ...] | str] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return bool(self.approved_by) and not self.pull.blockers


def gather(
    forge: ReadForge,
    *,
    login: str,
    number: int,
    default_branch: str,
    org: str,
    projects: Collection[str],
    environments: Collection[str],
    need_approval: bool = False,
    versions: Collection[tuple[str, str]] = (),
    provenance: Provenance | None = None,
) -> Facts:
    """Read the facts: role, the default branch's OWNERS file, team memberships, the PR.

    Only the teams of the allowlists of ``projects`` and ``environments`` (``"*"`` among the
    projects: every project) are looked up, one request each, and none when the role is not
    enough anyway or the commenter is listed by name. ``need_approval``: also check that the
    approvers of the head may write to the repository (an approval by a reader counts for
    nothing, as in branch protection), and read the PR's commits and, through ``provenance``,
    the commits each of ``versions`` (model, version) was built from.
    """
    role = forge.role_of(login)
    owners = parse_owners(forge.file_at(OWNERS_PATH, default_branch), org)
    teams: set[tuple[str, str]] = set()
    if role in WRITE_ROLES and owners.error is None:
        lists = [a for p, a in owners.projects.items() if p in projects or "*" in projects]
        lists += [a for e, a in owners.environments.items() if e in environments]
        wanted = {t for a in lists if login.lower() not in a.users for t in a.teams}
        teams = {t for t in sorted(wanted) if forge.in_team(t[0], t[1], login)}
    pull = forge.pull_state(number, reviews=need_approval)
    approved_by: tuple[str, ...] = ()
    commits: frozenset[str] = frozenset()
    sources: dict[tuple[str, str], tuple[str, ...] | str] = {}
    if need_approval and role in WRITE_ROLES:
        approved_by = tuple(u for u in pull.approvers if forge.role_of(u) in WRITE_ROLES)
        if approved_by:
            commits = frozenset(forge.pull_commits(number))
            sources = {v: _built_from(provenance, *v) for v in versions}
    return Facts(role, owners, frozenset(teams), pull, approved_by, commits, sources)


Provenance = Callable[[str, str], tuple[str, ...]]


def _built_from(provenance: Provenance | None, model: str, version: str) -> tuple[str, ...] | str:
    if provenance is None:
        return "no MLflow registry is configured here to read it from"
    try:
        return provenance(model, version)
    except SomlierError as exc:
        return exc.message


def withdrawn(forge: ReadForge, number: int, accepted: Facts, default_branch: str) -> str | None:
    """Why the approval a prod deploy was accepted on no longer holds (None: it still does):
    read right before the deploy starts and again right before its push."""
    pull = forge.pull_state(number, reviews=True)
    if pull.head_sha != accepted.pull.head_sha:
        return f"the pull request's head moved to `{pull.head_sha[:12]}` since the approval"
    if not pull.open:
        return "the pull request was closed"
    if pull.base != default_branch:
        return f"the pull request now targets {pull.base!r}, not {default_branch!r}"
    if pull.blockers:
        return f"{', '.join(pull.blockers)} requested changes"
    if not set(pull.approvers) & set(accepted.approved_by):
        return "the approval was withdrawn (dismissed or replaced by another review)"
    if pull.mergeable is False:
        return "the pull request is no longer mergeable"
    return None


def allowed(allowlist: Allowlist, login: str, teams: frozenset[tuple[str, str]]) -> bool:
    return login.lower() in allowlist.users or any(t in teams for t in allowlist.teams)
