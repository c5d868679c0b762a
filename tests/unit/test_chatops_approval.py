"""What a prod approval covers: a PR into the default branch, approved on its head, and only the
model versions registered from a run of one of its commits; an approval withdrawn before the
push stops the deploy (attack tests through the comment flow against an in-memory GitHub)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.chatops.dispatch import ActionContext, ActionResult
from pipeline.chatops.handle import Report, handle
from pipeline.chatops.parse import Command
from tests.fakes.chatops import HEAD, MemoryForge, comment_payload

OTHER = "b" * 40  # a commit of another branch, not of the PR
PROD = "/deploy churn 3 --env prod"


class Deploy:
    """A deploy action that, like the real one, calls ``ctx.recheck`` right before its push;
    ``meanwhile`` runs first (what happens on GitHub while the image builds)."""

    def __init__(self, meanwhile: Any = None) -> None:
        self.meanwhile = meanwhile
        self.started: list[str] = []
        self.pushed: list[str] = []

    def __call__(self, command: Command, ctx: ActionContext) -> ActionResult:
        self.started.append(command.text)
        if self.meanwhile is not None:
            self.meanwhile()
        ctx.recheck()
        self.pushed.append(command.text)
        return ActionResult(True, "pushed")


def run(forge: MemoryForge, action: Deploy, built: Any = (HEAD,), body: str = PROD) -> Report:
    def provenance(model: str, version: str) -> tuple[str, ...]:
        forge.reads.append(("mlflow", model, version))
        if isinstance(built, Exception):
            raise built
        return tuple(built)

    return handle(
        "issue_comment",
        comment_payload(body),
        forge_for=lambda repo: forge,
        actions={"deploy": action},
        dry_run=False,
        log=lambda line: None,
        provenance=provenance,
    )


def test_a_version_built_from_the_prs_head_is_deployed() -> None:
    forge, action = MemoryForge(roles={"alice": "write", "bob": "write"}), Deploy()
    assert run(forge, action).ok
    assert action.pushed == [PROD]
    assert ("mlflow", "churn", "3") in forge.reads and ("commits", 7) in forge.reads


def test_an_approved_pr_into_a_side_branch_authorises_nothing() -> None:
    forge = MemoryForge(roles={"alice": "write", "bob": "write"})
    forge.pull = replace(forge.pull, base="release-sandbox")
    action = Deploy()
    report = run(forge, action)
    assert action.started == [] and not report.ok
    assert "into the default branch 'main'; this one targets 'release-sandbox'" in forge.replies[0]


def test_an_approval_does_not_cover_a_version_built_elsewhere() -> None:
    forge, action = MemoryForge(roles={"alice": "write", "bob": "write"}), Deploy()
    run(forge, action, built=(OTHER,))
    assert action.started == []
    assert f"built from `{OTHER[:12]}`, not a commit of this pull request" in forge.replies[0]


def test_every_recorded_commit_must_be_of_the_pr() -> None:
    forge, action = MemoryForge(roles={"alice": "write", "bob": "write"}), Deploy()
    run(forge, action, built=(HEAD, OTHER))  # somlier.commit and mlflow.source.git.commit
    assert action.started == []


def test_a_version_without_origin_or_an_unreadable_registry_is_refused() -> None:
    from pipeline.errors import StepFailed

    for built, why in (
        ((), "records no commit it was built from"),
        (StepFailed("MLflow is unreachable"), "MLflow is unreachable"),
    ):
        forge, action = MemoryForge(roles={"alice": "write", "bob": "write"}), Deploy()
        run(forge, action, built=built)
        assert action.started == [] and why in forge.replies[0]


def test_without_a_registry_to_ask_no_prod_deploy_is_accepted() -> None:
    forge, action = MemoryForge(roles={"alice": "write", "bob": "write"}), Deploy()
    handle(
        "issue_comment",
        comment_payload(PROD),
        forge_for=lambda repo: forge,
        actions={"deploy": action},
        dry_run=False,
        log=lambda line: None,
    )
    assert action.started == []
    assert "no MLflow registry is configured" in forge.replies[0]


def test_an_approval_dismissed_while_the_image_builds_stops_the_push() -> None:
    forge = MemoryForge(roles={"alice": "write", "bob": "write"})

    def dismiss() -> None:
        forge.pull = replace(forge.pull, approvers=())

    action = Deploy(meanwhile=dismiss)
    report = run(forge, action)
    assert action.started == [PROD] and action.pushed == []
    (reply,) = forge.replies
    assert "**aborted**" in reply and "approval was withdrawn" in reply
    assert "stopped before it was pushed" in reply
    assert report.to_json()["commands"][0]["state"] == "aborted" and not report.ok


def test_a_push_after_the_approval_stops_the_deploy_before_its_push() -> None:
    forge = MemoryForge(roles={"alice": "write", "bob": "write"})

    def push() -> None:
        forge.pull = replace(forge.pull, head_sha="c" * 40, approvers=())

    action = Deploy(meanwhile=push)
    run(forge, action)
    assert action.pushed == []
    assert "head moved" in forge.replies[0]


def test_changes_requested_or_a_retargeted_base_meanwhile_stop_it_too() -> None:
    for change, why in (
        ({"blockers": ("erin",)}, "erin requested changes"),
        ({"base": "side"}, "now targets 'side'"),
        ({"mergeable": False}, "no longer mergeable"),
        ({"open": False}, "closed"),
    ):
        forge = MemoryForge(roles={"alice": "write", "bob": "write"})
        action = Deploy(
            meanwhile=lambda f=forge, c=change: setattr(f, "pull", replace(f.pull, **c))
        )
        run(forge, action)
        assert action.pushed == [] and why in forge.replies[0], why


def test_dev_deploys_need_no_approval_and_are_not_rechecked() -> None:
    forge = MemoryForge(roles={"alice": "write"})
    forge.pull = replace(forge.pull, approvers=(), base="side")
    action = Deploy()
    assert run(forge, action, built=(OTHER,), body="/deploy churn 3").ok
    assert action.pushed == ["/deploy churn 3"]
    assert not any(r[0] in ("mlflow", "commits") for r in forge.reads)
