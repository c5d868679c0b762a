"""Who may do what: classification of the event, permissions, allowlists, prod approval."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.chatops.decide import Accepted, CommentEvent, Ignored, Refused, classify, decide
from pipeline.chatops.permissions import OWNERS_PATH, Facts, gather, parse_owners
from pipeline.forge.pulls import PullState
from tests.fakes.chatops import HEAD, MemoryForge, comment_payload

OWNERS = b"""
projects:
  churn: {users: [carol], teams: [ml-churn]}
environments:
  prod: {users: [alice], teams: [other-org/sre]}
"""


def event_of(body: str, **kwargs: object) -> CommentEvent:
    found = classify("issue_comment", comment_payload(body, **kwargs))  # type: ignore[arg-type]
    assert isinstance(found, CommentEvent), found
    return found


def facts(role: str = "write", owners: bytes | None = None, **pull: object) -> Facts:
    state = replace(PullState(HEAD, True, True, base="main"), **pull)  # type: ignore[arg-type]
    # a PR into the default branch, approved by bob, whose head built churn version 3
    built = {("churn", "3"): (HEAD,)}
    return Facts(
        role, parse_owners(owners, "acme"), frozenset(), state, ("bob",), frozenset({HEAD}), built
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"action": "edited"}, "only new comments count"),
        ({"action": "deleted"}, "only new comments count"),
        ({"user_type": "Bot", "login": "somlier[bot]"}, "bot"),
        ({"login": "dependabot[bot]"}, "bot"),
        ({"on_pull": False}, "not on a pull request"),
    ],
)
def test_ignored_events(changes: dict[str, object], reason: str) -> None:
    found = classify("issue_comment", comment_payload("/deploy churn 3", **changes))  # type: ignore[arg-type]
    assert isinstance(found, Ignored) and reason in found.reason


def test_other_events_and_our_own_replies_are_ignored() -> None:
    assert isinstance(classify("pull_request", comment_payload("/help")), Ignored)
    reply = "⛔ `/deploy a 1`: refused\n<!-- somlier:chatops comment=1 command=0 -->"
    assert isinstance(classify("issue_comment", comment_payload(reply)), Ignored)


def test_a_writer_may_deploy_to_dev() -> None:
    (verdict,) = decide(event_of("/deploy churn 3"), facts())
    assert verdict == Accepted(verdict.command, HEAD)


@pytest.mark.parametrize("role", ["read", "triage", "none"])
def test_permission_comes_from_the_api_role_not_the_association(role: str) -> None:
    payload = comment_payload("/deploy churn 3")
    payload["comment"]["author_association"] = "OWNER"  # says nothing about permission
    found = classify("issue_comment", payload)
    assert isinstance(found, CommentEvent)
    (verdict,) = decide(found, facts(role))
    assert isinstance(verdict, Refused)
    assert f"has {role!r} permission" in verdict.reason


def test_project_allowlist_by_user_and_by_team() -> None:
    owners = OWNERS
    (refused,) = decide(event_of("/deploy churn 3"), facts(owners=owners))
    assert isinstance(refused, Refused) and "allowlist of project 'churn'" in refused.reason
    by_team = replace(facts(owners=owners), teams=frozenset({("acme", "ml-churn")}))
    assert isinstance(decide(event_of("/deploy churn 3"), by_team)[0], Accepted)
    (carol,) = decide(event_of("/deploy churn 3", login="carol"), facts(owners=owners))
    assert isinstance(carol, Accepted)
    (other,) = decide(event_of("/deploy other 3"), facts(owners=owners))
    assert isinstance(other, Accepted)  # no entry: write permission is enough


def test_build_without_projects_needs_every_restricted_project() -> None:
    (verdict,) = decide(event_of("/build"), facts(owners=OWNERS))
    assert isinstance(verdict, Refused) and "'churn'" in verdict.reason
    assert isinstance(decide(event_of("/build alpha"), facts(owners=OWNERS))[0], Accepted)


def test_prod_needs_the_environment_allowlist_and_an_approved_mergeable_pr() -> None:
    owners = b"environments: {prod: {users: [alice]}}"
    (ok,) = decide(event_of("/deploy churn 3 --env prod"), facts(owners=owners))
    assert isinstance(ok, Accepted)
    (dave,) = decide(event_of("/deploy churn 3 --env prod", login="dave"), facts(owners=owners))
    assert isinstance(dave, Refused) and "environment 'prod'" in dave.reason
    unapproved = replace(facts(owners=owners), approved_by=())
    (refused,) = decide(event_of("/deploy churn 3 --env prod"), unapproved)
    assert isinstance(refused, Refused) and "approved" in refused.reason
    blocked = facts(owners=owners, blockers=("erin",))
    assert isinstance(decide(event_of("/deploy churn 3 --env prod"), blocked)[0], Refused)
    for mergeable in (False, None):
        conflicted = facts(owners=owners, mergeable=mergeable)
        (verdict,) = decide(event_of("/deploy churn 3 --env prod"), conflicted)
        assert isinstance(verdict, Refused) and "mergeable" in verdict.reason
    dev = replace(facts(owners=owners), approved_by=())
    assert isinstance(decide(event_of("/deploy churn 3"), dev)[0], Accepted)


def test_a_closed_pr_and_a_broken_owners_file_refuse_everything() -> None:
    (closed,) = decide(event_of("/build"), facts(open=False))
    assert isinstance(closed, Refused) and "closed" in closed.reason
    (broken,) = decide(event_of("/build"), facts(owners=b"projects: [nope]"))
    assert isinstance(broken, Refused) and OWNERS_PATH in broken.reason


def test_each_command_gets_its_own_verdict() -> None:
    verdicts = decide(
        event_of("/deploy churn 3\n/deploy churn 3 --env prod\n/build a;b\n/help"),
        facts(owners=b"environments: {prod: {users: [zed]}}"),
    )
    assert [type(v).__name__ for v in verdicts] == ["Accepted", "Refused", "Refused", "Accepted"]


def test_owners_come_from_the_default_branch_and_teams_are_looked_up_only_when_needed() -> None:
    forge = MemoryForge(
        files={
            (OWNERS_PATH, "main"): b"projects: {churn: {users: [carol], teams: [ml]}}",
            (OWNERS_PATH, "feature"): b"projects: {churn: {users: [alice]}}",
        }
    )
    found = gather(
        forge,
        login="alice",
        number=7,
        default_branch="main",
        org="acme",
        projects={"churn"},
        environments={"dev"},
    )
    assert ("file", OWNERS_PATH, "main") in forge.reads
    assert not any(r[0] == "file" and r[2] != "main" for r in forge.reads)
    assert ("team", "acme", "ml", "alice") in forge.reads
    assert isinstance(decide(event_of("/deploy churn 3"), found)[0], Refused)
    forge.reads.clear()
    gather(
        forge,
        login="alice",
        number=7,
        default_branch="main",
        org="acme",
        projects={"other"},
        environments={"dev"},
    )
    assert not any(r[0] == "team" for r in forge.reads)


def test_approvals_count_only_from_writers() -> None:
    forge = MemoryForge(
        roles={"alice": "write", "bob": "read"},
        pull=PullState(HEAD, True, True, approvers=("bob",)),
    )
    found = gather(
        forge,
        login="alice",
        number=7,
        default_branch="main",
        org="acme",
        projects=set(),
        environments={"prod"},
        need_approval=True,
    )
    assert found.approved_by == () and not found.approved


def test_the_documented_owners_file_is_valid() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text()
    block = doc.split("# fragment: .somlier/OWNERS.yaml\n", 1)[1].split("```", 1)[0]
    owners = parse_owners(block.encode(), "acme")
    assert owners.error is None
    assert owners.projects["churn-model"].teams == (("acme", "ml-churn"),)
    assert owners.environments["prod"].users == frozenset({"alice"})
