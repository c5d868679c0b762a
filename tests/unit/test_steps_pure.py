"""The pure parts of the image step: tags, image names, event decisions, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.images.outcome import Outcome
from pipeline.images.refs import BuildContext, ImageName, cache_sources, tags_for
from pipeline.notify.message import Message
from pipeline.steps import report
from pipeline.steps.event import DefaultBranchBuild, Ignored, PullRequestBuild, decide, load_payload
from tests.helpers.data import webhook_payload

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
HASH = "ab" * 32


def payload(name: str) -> dict:
    return webhook_payload(name)


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        ("", "churn", "churn:t"),
        ("127.0.0.1:5000", "churn", "127.0.0.1:5000/churn:t"),
        ("asia-docker.pkg.dev/proj/ml/", "ml-churn", "asia-docker.pkg.dev/proj/ml/ml-churn:t"),
    ],
)
def test_image_names(prefix: str, name: str, expected: str) -> None:
    assert ImageName.parse(prefix, name).ref("t") == expected


def test_pr_tags_never_move_release_tags() -> None:
    tags = tags_for(HASH, BuildContext("pr", SHA, 12), ("latest", "team-a"))
    assert tags == (f"src-{HASH[:12]}", "sha-ec26c3e", "pr-12")


def test_main_tags() -> None:
    tags = tags_for(HASH, BuildContext("main", SHA), ("latest", "team-a"))
    assert tags == (f"src-{HASH[:12]}", "sha-ec26c3e", "latest", "team-a")


def test_a_build_takes_its_cache_from_the_prs_last_push_and_the_last_release() -> None:
    image = ImageName.parse("127.0.0.1:5000/ml", "churn")
    pr = cache_sources(image, BuildContext("pr", SHA, 12))
    assert pr == ("127.0.0.1:5000/ml/churn:pr-12", "127.0.0.1:5000/ml/churn:latest")
    latest = ("127.0.0.1:5000/ml/churn:latest",)
    assert cache_sources(image, BuildContext("main", SHA)) == latest
    assert cache_sources(image, BuildContext("manual", SHA)) == latest
    # an image of the local engine only: there is no registry to read a cache from
    assert cache_sources(ImageName.parse("", "churn"), BuildContext("pr", SHA, 12)) == ()


def test_context_checks() -> None:
    with pytest.raises(UserError):
        BuildContext("pr", SHA)
    with pytest.raises(UserError):
        BuildContext("main", "not-a-sha; rm -rf /")


def test_pull_request_events() -> None:
    for name in ("pull_request.opened", "pull_request.synchronize", "pull_request.reopened"):
        decision = decide("pull_request", payload(name))
        assert isinstance(decision, PullRequestBuild)
        assert decision.number == 2 and decision.head_sha == SHA
    closed = decide("pull_request", payload("pull_request.closed"))
    assert isinstance(closed, Ignored) and "closed" in closed.reason


def test_drafts_are_configurable() -> None:
    data = payload("pull_request.opened")
    data["pull_request"]["draft"] = True
    assert isinstance(decide("pull_request", data), Ignored)
    assert isinstance(decide("pull_request", data, include_drafts=True), PullRequestBuild)


def test_push_events() -> None:
    data = payload("push")
    assert isinstance(decide("push", data), Ignored)  # a tag push
    data["ref"] = f"refs/heads/{data['repository']['default_branch']}"
    assert "deleted" in decide("push", data).reason  # type: ignore[union-attr]
    data["after"] = SHA
    decision = decide("push", data)
    assert isinstance(decision, DefaultBranchBuild) and decision.after == data["after"]
    assert isinstance(decide("push", payload("push.with-new-branch")), Ignored)


def test_other_events_and_bad_payloads(tmp_path: Path) -> None:
    assert isinstance(decide("issue_comment", payload("issue_comment.created")), Ignored)
    assert isinstance(decide("pull_request_target", payload("pull_request.opened")), Ignored)
    with pytest.raises(UserError, match="no pull_request"):
        decide("pull_request", {"action": "opened"})
    bad = tmp_path / "e.json"
    bad.write_text("[1, 2")
    with pytest.raises(UserError, match="not a JSON event payload"):
        load_payload(bad)
    deep = tmp_path / "deep.json"
    deep.write_text('{"action": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(UserError, match="its JSON is nested too deeply"):
        load_payload(deep)


def outcome(name: str, ok: bool = True, **kw: object) -> Outcome:
    base = {
        "project": name,
        "path": f"projects/{name}",
        "image": f"reg/ml/{name}",
        "tags": ("src-1", "pr-3"),
        "ok": ok,
    }
    return Outcome(**{**base, **kw})  # type: ignore[arg-type]


def test_markdown_report_lists_projects_and_failure_tails() -> None:
    text = report.markdown(
        [
            outcome("a", digest="sha256:" + "1" * 64, pushed=True, seconds=3.2),
            outcome("b", ok=False, error="the image of b did not build", log_tail=("boom",)),
            outcome("c|pipe", cache_hit=True),
        ],
        title="t",
        api_calls=7,
    )
    assert "| a | ✅ built |" in text and "❌ failed" in text and "✅ cache hit" in text
    assert "c\\|pipe" in text  # a table cell cannot be broken by a name
    assert "boom" in text and "GitHub API calls this run: 7" in text


def test_comment_keeps_marker_and_slack_thread() -> None:
    body = report.comment([outcome("a")], title="t", slack_thread="1700000000.000100")
    assert report.MARKER in body
    assert report.slack_thread_of(body) == "1700000000.000100"
    assert report.slack_thread_of("<!-- somlier:slack-thread $(id) -->") is None


def test_outputs_and_github_output_syntax() -> None:
    values = report.outputs([outcome("a", digest="sha256:x", pushed=True), outcome("b", ok=False)])
    assert json.loads(values["failed"]) == ["b"] and values["ok"] == "false"
    assert json.loads(values["images"])[0]["pinned"] == "reg/ml/a@sha256:x"
    text = report.github_output_lines({"one": "1", "many": "x\ny"})
    assert text.startswith("one=1\nmany<<somlier_EOF\nx\ny\nsomlier_EOF\n")


def test_slack_message_escapes_and_blocks() -> None:
    message = report.slack([outcome("a<b>")], title="images & more", link="https://x/pr/1")
    blocks = message.blocks()
    assert blocks[0]["text"]["text"].startswith("<https://x/pr/1|✅ images &amp; more>")
    assert "a&lt;b&gt;" in blocks[-1]["text"]["text"]
    assert Message("t", ok=False).text.startswith("❌")
