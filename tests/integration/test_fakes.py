"""The fakes at the HTTP seam, driven by the real clients (PyGithub, slack-sdk, githubkit).

Honesty: every answer the fake GitHub gives in these tests is parsed, in pydantic's strict mode,
with the model githubkit generates from GitHub's OpenAPI description for that very endpoint and
API version (tests/fakes/honesty.py), and any field the description does not know fails too.
One test calls every route the fake serves, in both API versions.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from github import Github, GithubException
from github.GithubException import BadCredentialsException, RateLimitExceededException
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from tests.fakes import FakeGitHub, FakeSlack
from tests.fakes.fixtures import fake_github_fixture, pygithub, slack_web  # noqa: F401
from tests.fakes.honesty import check_all_answers, check_answer

pytestmark = pytest.mark.integration

REPO = "acme/ml-projects"
TOKEN = "ghp_canary_0123456789abcdef"
SLACK_TOKEN = "xoxb-canary-0123456789"


# fixtures ---------------------------------------------------------------------------------------


def call(fake: FakeGitHub, method: str, path: str, version: str | None = None) -> Any:
    """A raw request, for the few routes PyGithub has no method for."""
    headers = {"Authorization": f"token {TOKEN}"}
    if version:
        headers["X-GitHub-Api-Version"] = version
    request = urllib.request.Request(fake.url + path, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read() or b"null")


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(REPO)
    return fake_github  # fake_github checks every answer at teardown: each test is an honesty check


def client(fake: FakeGitHub, token: str = TOKEN, **kwargs: Any) -> Github:
    return pygithub(fake, token, **kwargs)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=SLACK_TOKEN) as fake:
        yield fake
        assert fake.errors == []


def slack_client(fake: FakeSlack, **kwargs: Any) -> WebClient:
    return slack_web(fake, SLACK_TOKEN, **kwargs)


# honesty ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", [None, "2026-03-10"])
def test_every_route_answers_in_githubs_shape(github: FakeGitHub, api_version: str | None) -> None:
    github.add_collaborator(REPO, "alice", "maintain")
    number = github.add_pull(
        REPO, "feature", files={"proj/somlier.yaml": "project: {}\n"}, labels=["somlier"]
    )
    issue = github.add_issue(REPO, "a plain issue", labels=["bug"])
    g = client(github, api_version=api_version)
    repo = g.get_repo(REPO)
    assert g.get_user().login == "somlier-bot"
    assert g.get_user("alice").login == "alice"
    assert repo.get_collaborator_permission("alice") == "write"
    assert repo.has_in_collaborators("alice")
    assert g.get_rate_limit().resources.core.limit == 5000
    pull = repo.get_pull(number)
    assert repo.get_issue(issue).pull_request is None
    comment = pull.create_issue_comment("first")
    assert repo.get_issue(number).comments == 1
    comment.edit("second")
    assert repo.get_issue(number).get_comment(comment.id).body == "second"
    comment.create_reaction("rocket")
    assert [r.content for r in comment.get_reactions()] == ["rocket"]
    assert [c.body for c in pull.get_issue_comments()] == ["second"]
    comment.delete()
    assert [p.number for p in repo.get_pulls(state="all")] == [number]
    github.add_review(REPO, number, "alice", "APPROVED")
    assert [r.state for r in pull.get_reviews()] == ["APPROVED"]
    assert [c.sha for c in pull.get_commits()] == [github.ref_sha(REPO, "refs/heads/feature")]
    github.add_team_member("acme", "sre", "alice")
    membership = call(github, "GET", "/orgs/acme/teams/sre/memberships/alice", api_version)
    assert membership["state"] == "active"
    github.add_branch(REPO, "other", files={"x.txt": "x"})
    created = repo.create_pull(base="main", head="other", title="Other", body="b")
    created.edit(title="Other, retitled")
    commit = repo.get_commit(created.head.sha)
    assert commit.commit.message == "Update x.txt"
    commit.create_status(
        "pending",
        target_url="https://ci.example/1",
        description="building",
        context="somlier/build/proj",
    )
    assert [s.state for s in commit.get_statuses()] == ["pending"]
    assert commit.get_combined_status().state == "pending"
    listed = call(github, "GET", f"/repos/{REPO}/commits/other/statuses", version=api_version)
    assert [s["context"] for s in listed] == ["somlier/build/proj"]
    main = repo.get_git_ref("heads/main")
    ref = repo.create_git_ref("refs/heads/deploy", main.object.sha)
    assert [r.ref for r in repo.get_git_refs()] == [
        "refs/heads/deploy",
        "refs/heads/feature",
        "refs/heads/main",
        "refs/heads/other",
    ]
    assert [r.ref for r in repo.get_git_matching_refs("heads/d")] == ["refs/heads/deploy"]
    written = repo.create_file("serving/model.yaml", "add manifest", "kind: X\n", branch="deploy")
    ref.edit(written["commit"].sha)
    assert repo.get_branch("deploy").commit.sha == written["commit"].sha
    assert {b.name for b in repo.get_branches()} == {"main", "feature", "other", "deploy"}
    content = repo.get_contents("serving/model.yaml", ref="deploy")
    assert not isinstance(content, list) and content.decoded_content == b"kind: X\n"
    listing = repo.get_contents("", ref="deploy")
    assert isinstance(listing, list) and {c.path for c in listing} >= {"README.md", "serving"}
    repo.update_file("serving/model.yaml", "change", "kind: Y\n", content.sha, branch="deploy")
    again = repo.get_contents("serving/model.yaml", ref="deploy")
    assert not isinstance(again, list)
    repo.delete_file("serving/model.yaml", "remove", again.sha, branch="deploy")
    ref.delete()

    versions = {r.response_headers["X-GitHub-Api-Version-Selected"] for r in github.requests}
    assert versions == {api_version or "2022-11-28"}
    served = {(r.method, r.route) for r in github.requests if r.status < 300}
    assert served == {(method, template) for method, template, _ in FakeGitHub.routes}
    assert github.unrouted == []


def test_githubkit_reads_the_fake_in_the_newest_api_version(github: FakeGitHub) -> None:
    from githubkit import GitHub

    number = github.add_pull(REPO, "feature")
    github.add_comment(REPO, number, "hello", user="alice")
    with GitHub(TOKEN, base_url=github.url, http_cache=False, auto_retry=False) as kit:
        pull = kit.rest.pulls.get("acme", "ml-projects", number).parsed_data
        comments = kit.rest.issues.list_comments("acme", "ml-projects", number).parsed_data
        limits = kit.rest.rate_limit.get().parsed_data
    assert pull.head.ref == "feature" and [c.body for c in comments] == ["hello"]
    assert limits.resources.core.limit == 5000
    assert {r.response_headers["X-GitHub-Api-Version-Selected"] for r in github.requests} == {
        "2026-03-10"
    }
    assert "assignee" not in github.requests[0].response_json  # gone in 2026-03-10


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda pull: {**pull, "id": str(pull["id"])}, id="wrong-type"),
        pytest.param(
            lambda pull: {k: v for k, v in pull.items() if k != "head"}, id="missing-field"
        ),
        pytest.param(lambda pull: {**pull, "html_link": pull["html_url"]}, id="unknown-field"),
        pytest.param(lambda pull: {**pull, "locked": "false"}, id="string-for-bool"),
        pytest.param(
            lambda pull: {**pull, "head": {**pull["head"], "sha": None}}, id="nested-null"
        ),
    ],
)
def test_a_shape_github_never_sends_fails_the_check(github: FakeGitHub, forge: Any) -> None:
    github.add_pull(REPO, "feature")
    list(client(github).get_repo(REPO).get_pulls())
    answer = github.requests[-1]
    check_answer(answer)
    forged_body = json.dumps([forge(answer.response_json[0])]).encode()
    with pytest.raises((ValueError, AssertionError)):
        check_answer(dataclasses.replace(answer, response_body=forged_body))


# PyGithub: comments, pulls, statuses, permissions --------------------------------------------


def test_comment_create_list_edit(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    pull = client(github).get_repo(REPO).get_pull(number)
    created = pull.create_issue_comment("<!-- somlier -->\nbuilding")
    created.edit("<!-- somlier -->\nbuilt")
    assert [(c.id, c.body) for c in pull.get_issue_comments()] == [(created.id, created.body)]
    assert [c.body for c in github.comments(REPO, number)] == ["<!-- somlier -->\nbuilt"]
    assert created.user.login == "somlier-bot" and created.id > 1_000_000 > number


def test_comment_rules(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    pull = client(github).get_repo(REPO).get_pull(number)
    with pytest.raises(GithubException) as too_long:
        pull.create_issue_comment("x" * 65537)
    assert too_long.value.status == 422
    with pytest.raises(GithubException) as missing:
        client(github).get_repo(REPO).get_pull(99)
    assert missing.value.status == 404
    assert github.comments(REPO, number) == []


def test_pagination_over_more_than_30_comments(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    for index in range(75):
        github.add_comment(REPO, number, f"comment {index}", user="alice")
    comments = client(github).get_repo(REPO).get_pull(number).get_issue_comments()
    assert [c.body for c in comments] == [f"comment {i}" for i in range(75)]
    pages = [r for r in github.requests if r.path.endswith(f"/issues/{number}/comments")]
    assert [r.query.get("page", "1") for r in pages] == ["1", "2", "3"]
    assert 'rel="next"' in pages[0].response_headers["Link"]
    assert 'rel="last"' in pages[0].response_headers["Link"]
    assert (
        "Link" not in pages[2].response_headers
        or 'rel="next"' not in pages[2].response_headers["Link"]
    )
    assert comments.totalCount == 75  # PyGithub reads it from the last page's Link


def test_per_page_is_capped_at_100(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    for index in range(120):
        github.add_comment(REPO, number, f"c{index}")
    g = client(github, per_page=500)
    assert len(list(g.get_repo(REPO).get_pull(number).get_issue_comments())) == 120
    pages = [r for r in github.requests if r.path.endswith("/comments")]
    assert [len(r.response_json) for r in pages] == [100, 20]


def test_create_pull_and_already_exists(github: FakeGitHub) -> None:
    github.add_branch(REPO, "somlier/deploy-m", files={"m.yaml": "a"})
    repo = client(github).get_repo(REPO)
    first = repo.create_pull(base="main", head="somlier/deploy-m", title="Deploy m", body="")
    with pytest.raises(GithubException) as exists:
        repo.create_pull(base="main", head="somlier/deploy-m", title="Deploy m", body="")
    assert exists.value.status == 422
    assert "A pull request already exists for acme:somlier/deploy-m." in json.dumps(
        exists.value.data
    )
    found = repo.get_pulls(state="open", head="acme:somlier/deploy-m", base="main")
    assert [p.number for p in found] == [first.number]
    first.edit(body="updated")
    assert github.pull(REPO, first.number).body == "updated"
    with pytest.raises(GithubException) as nothing:
        github.add_branch(REPO, "empty")
        repo.create_pull(base="main", head="empty", title="Nothing", body="")
    assert "No commits between main and empty" in json.dumps(nothing.value.data)


def test_head_filter_without_owner_is_ignored_like_github_does(github: FakeGitHub) -> None:
    github.add_pull(REPO, "one")
    github.add_pull(REPO, "two")
    repo = client(github).get_repo(REPO)
    assert len(list(repo.get_pulls(head="one"))) == 2
    assert [p.head.ref for p in repo.get_pulls(head="acme:one")] == ["one"]


def test_pull_head_follows_its_branch(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    sha = github.add_commit(REPO, "feature", {"more.txt": "more"})
    pull = client(github).get_repo(REPO).get_pull(number)
    assert pull.head.sha == sha and pull.commits == 2 and pull.changed_files == 2


def test_statuses(github: FakeGitHub) -> None:
    sha = github.add_branch(REPO, "feature", files={"a": "1"})
    commit = client(github).get_repo(REPO).get_commit(sha)
    commit.create_status("pending", context="somlier/build/a")
    commit.create_status("success", target_url="https://ci/1", context="somlier/build/a")
    commit.create_status("failure", context="somlier/build/b", description="boom")
    assert [s.state for s in commit.get_statuses()] == ["failure", "success", "pending"]
    combined = commit.get_combined_status()
    assert combined.state == "failure" and combined.total_count == 2
    assert [s.state for s in github.statuses(REPO, "feature")] == ["pending", "success", "failure"]
    with pytest.raises(GithubException) as long_description:
        commit.create_status("success", description="x" * 141)
    assert long_description.value.status == 422
    with pytest.raises(GithubException) as unknown:
        client(github).get_repo(REPO).get_commit("0" * 40).create_status("success")
    assert unknown.value.status == 422


def test_git_refs_and_contents_rules(github: FakeGitHub) -> None:
    repo = client(github).get_repo(REPO)
    main = github.ref_sha(REPO, "main")
    assert main is not None
    ref = repo.create_git_ref("refs/heads/deploy", main)
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/deploy", main)
    assert exists.value.status == 422 and exists.value.data["message"] == "Reference already exists"
    ahead = github.add_commit(REPO, "main", {"a.txt": "a"})
    ref.edit(ahead)  # a fast-forward
    behind = github.add_commit(REPO, "deploy", {"b.txt": "b"})
    with pytest.raises(GithubException) as not_ff:
        ref.edit(github.add_commit(REPO, "main", {"c.txt": "c"}))
    assert not_ff.value.data["message"] == "Update is not a fast forward"
    assert github.ref_sha(REPO, "deploy") == behind
    repo.create_file("m.yaml", "add", "one\n", branch="deploy")
    with pytest.raises(GithubException) as stale:
        repo.update_file("m.yaml", "change", "two\n", "0" * 40, branch="deploy")
    assert stale.value.status == 409
    assert github.file(REPO, "m.yaml", ref="deploy") == b"one\n"
    assert github.file(REPO, "m.yaml") is None  # main never saw it


def test_collaborator_permission(github: FakeGitHub) -> None:
    github.add_collaborator(REPO, "writer", "write")
    github.add_collaborator(REPO, "maintainer", "maintain")
    github.add_collaborator(REPO, "triager", "triage")
    repo = client(github).get_repo(REPO)
    assert repo.get_collaborator_permission("acme") == "admin"  # the owner
    assert repo.get_collaborator_permission("writer") == "write"
    assert repo.get_collaborator_permission("maintainer") == "write"  # legacy field folds roles
    assert repo.get_collaborator_role_name("maintainer") == "maintain"
    assert repo.get_collaborator_permission("triager") == "read"
    assert repo.get_collaborator_permission("stranger") == "read"  # public repository
    private = github.add_repo("acme/deploy", private=True)
    github.add_collaborator(private.full_name, "somlier-bot", "write")
    assert client(github).get_repo("acme/deploy").get_collaborator_permission("stranger") == "none"


def test_private_repository_is_invisible_to_outsiders(github: FakeGitHub) -> None:
    github.add_repo("acme/secret", private=True)
    with pytest.raises(GithubException) as hidden:
        client(github).get_repo("acme/secret")
    assert hidden.value.status == 404


def test_tokens_map_to_users_and_unknown_tokens_are_refused() -> None:
    with FakeGitHub(tokens={"t-alice": "alice", "t-bot": "somlier-bot"}) as fake:
        fake.add_repo(REPO)
        number = fake.add_pull(REPO, "feature")
        client(fake, "t-alice").get_repo(REPO).get_pull(number).create_issue_comment("/deploy m 1")
        assert [c.user.login for c in fake.comments(REPO, number)] == ["alice"]
        with pytest.raises(BadCredentialsException):
            client(fake, "t-wrong").get_user().login  # noqa: B018 - the call is the test
        check_all_answers(fake)


def test_rate_limit_headers_count_calls(github: FakeGitHub) -> None:
    g = client(github)
    g.get_repo(REPO)
    g.get_repo(REPO)
    assert g.rate_limiting == (4998, 5000)
    assert github.api_calls == 2
    last = github.requests[-1].response_headers
    assert last["X-RateLimit-Used"] == "2" and last["X-RateLimit-Resource"] == "core"
    g.get_rate_limit()
    assert github.api_calls == 2  # GET /rate_limit is free, as on GitHub


def test_rate_limit_exhausted() -> None:
    with FakeGitHub(rate_limit=1) as fake:
        fake.add_repo(REPO)
        g = client(fake)
        g.get_repo(REPO)
        with pytest.raises(RateLimitExceededException):
            g.get_repo(REPO)
        check_all_answers(fake)


def test_requests_are_recorded_without_authorization(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    client(github).get_repo(REPO).get_pull(number).create_issue_comment("hi")
    post = github.requests[-1]
    assert (post.method, post.path, post.json) == (
        "POST",
        f"/repos/{REPO}/issues/{number}/comments",
        {"body": "hi"},
    )
    assert post.route == "/repos/{owner}/{repo}/issues/{issue_number}/comments"
    assert "user-agent" in post.headers
    for recorded in github.requests:
        assert "authorization" not in recorded.headers
        assert TOKEN not in repr(recorded)


def test_unknown_routes_are_recorded_and_answered_404(github: FakeGitHub) -> None:
    with pytest.raises(GithubException) as missing:
        client(github).get_repo(REPO).get_releases()[0]
    assert missing.value.status == 404
    assert [r.path for r in github.unrouted] == [f"/repos/{REPO}/releases"]


# faults -----------------------------------------------------------------------------------------


def test_502_after_create_leaves_exactly_one_comment(github: FakeGitHub) -> None:
    number = github.add_pull(REPO, "feature")
    fault = github.inject("POST", r"/issues/\d+/comments$", 502, after_success=True)
    pull = client(github).get_repo(REPO).get_pull(number)
    with pytest.raises(GithubException) as bad_gateway:
        pull.create_issue_comment("report")
    assert bad_gateway.value.status == 502 and fault.hits == 1
    assert [c.body for c in github.comments(REPO, number)] == ["report"]
    assert [r.status for r in github.requests if r.method == "POST"] == [502]
    assert github.requests[-1].fault is fault


def test_pygithubs_default_retry_repeats_a_post_after_502(github: FakeGitHub) -> None:
    """Why the product must not rely on PyGithub's default retry for creates."""
    number = github.add_pull(REPO, "feature")
    github.inject("POST", r"/issues/\d+/comments$", 502, after_success=True)
    client(github, retry=Github.default_retry).get_repo(REPO).get_pull(number).create_issue_comment(
        "x"
    )
    assert [c.body for c in github.comments(REPO, number)] == ["x", "x"]


def test_403_with_retry_after_is_honoured_by_pygithub(github: FakeGitHub) -> None:
    github.inject("GET", rf"^/repos/{REPO}$", 403, headers={"Retry-After": "1"})
    started = time.monotonic()
    client(github, retry=Github.default_retry).get_repo(REPO)
    assert time.monotonic() - started >= 1
    assert [(r.status, r.response_headers.get("Retry-After")) for r in github.requests] == [
        (403, "1"),
        (200, None),
    ]
    assert "secondary rate limit" in github.requests[0].response_json["message"]


def test_403_secondary_rate_limit_without_retry(github: FakeGitHub) -> None:
    github.inject("GET", rf"^/repos/{REPO}$", 403, headers={"Retry-After": "60"})
    with pytest.raises(RateLimitExceededException):
        client(github).get_repo(REPO)


def test_429_with_retry_after_is_recorded_then_retried(github: FakeGitHub) -> None:
    fault = github.inject("GET", rf"^/repos/{REPO}$", 429, headers={"Retry-After": "0"})
    client(github, retry=Github.default_retry).get_repo(REPO)
    assert [(r.status, r.response_headers.get("Retry-After")) for r in github.requests] == [
        (429, "0"),
        (200, None),
    ]
    assert fault.hits == 1 and github.requests[0].fault is fault


def test_injected_422_already_exists(github: FakeGitHub) -> None:
    github.add_branch(REPO, "feature", files={"a": "b"})
    github.inject("POST", r"/pulls$", 422)
    with pytest.raises(GithubException) as exists:
        client(github).get_repo(REPO).create_pull(base="main", head="feature", title="t", body="")
    assert "A pull request already exists for acme:feature." in json.dumps(exists.value.data)
    assert github.pulls(REPO) == []  # answered instead of the handler: nothing created


def test_fault_times_and_custom_body(github: FakeGitHub) -> None:
    fault = github.inject("*", r"^/user$", 503, times=2, body={"message": "maintenance"})
    g = client(github)
    for _ in range(2):
        with pytest.raises(GithubException) as unavailable:
            g.get_user().login  # noqa: B018
        assert unavailable.value.status == 503
    assert g.get_user().login == "somlier-bot"
    assert fault.hits == 2 and fault.spent


def test_delay_fault_makes_the_client_time_out(github: FakeGitHub) -> None:
    fault = github.inject("GET", rf"^/repos/{REPO}$", None, delay=0.5)
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(f"{github.url}/repos/{REPO}", timeout=0.1)
    assert fault.hits == 1
    assert client(github).get_repo(REPO).name == "ml-projects"  # the delay was spent


def test_stopped_github_refuses_connections_and_restarts() -> None:
    fake = FakeGitHub().start()
    fake.add_repo(REPO)
    url = fake.url
    fake.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        client(fake).get_repo(REPO)
    fake.start()
    try:
        assert fake.url == url and client(fake).get_repo(REPO).name == "ml-projects"
    finally:
        fake.stop()


# Slack ------------------------------------------------------------------------------------------


def test_slack_post_thread_update_and_auth(slack: FakeSlack) -> None:
    web = slack_client(slack)
    assert web.auth_test()["user_id"] == slack.bot_user_id
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*PR #1*: 2 images"}}]
    parent = web.chat_postMessage(channel="#dp_monitor_cicd", text="PR #1", blocks=blocks)
    assert parent["channel"] == "C0DPMONCICD" and parent["message"]["blocks"] == blocks
    reply = web.chat_postMessage(channel=parent["channel"], text="rebuilt", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    updated = web.chat_update(channel=parent["channel"], ts=parent["ts"], text="PR #1: done")
    assert updated["text"] == "PR #1: done"
    assert [m.text for m in slack.channel_messages("dp_monitor_cicd")] == ["PR #1: done"]
    assert [m.text for m in slack.replies(parent["ts"])] == ["rebuilt"]
    assert slack.calls("chat.postMessage")[0]["blocks"] == blocks
    for recorded in slack.requests:
        assert "authorization" not in recorded.headers and SLACK_TOKEN not in repr(recorded)


@pytest.mark.filterwarnings("ignore:.*`text` argument is missing:UserWarning")
def test_slack_errors_as_slack_sends_them(slack: FakeSlack) -> None:
    web = slack_client(slack)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: web.chat_postMessage(channel="#nope", text="x"), "channel_not_found"),
        (lambda: web.chat_postMessage(channel="#dp_monitor_cicd"), "no_text"),
        (
            lambda: web.chat_postMessage(channel="#dp_monitor_cicd", blocks=[{"text": "x"}]),
            "invalid_blocks",
        ),
        (
            lambda: web.chat_update(channel="#dp_monitor_cicd", ts="1.2", text="x"),
            "channel_not_found",
        ),  # chat.update wants the channel id
        (lambda: web.chat_update(channel="C0DPMONCICD", ts="1.2", text="x"), "message_not_found"),
        (lambda: WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test(), "invalid_auth"),
        (lambda: WebClient(base_url=slack.api_url).auth_test(), "not_authed"),
    ]
    for attempt, expected in cases:
        with pytest.raises(SlackApiError) as failed:
            attempt()
        assert failed.value.response["error"] == expected
    assert slack.messages == []


def test_slack_injected_error(slack: FakeSlack) -> None:
    slack.inject_error("chat.postMessage", "channel_not_found")
    web = slack_client(slack)
    with pytest.raises(SlackApiError) as failed:
        web.chat_postMessage(channel="#dp_monitor_cicd", text="x")
    assert failed.value.response["error"] == "channel_not_found"
    assert web.chat_postMessage(channel="#dp_monitor_cicd", text="x")["ok"]
    assert len(slack.messages) == 1


def test_slack_429_then_success_delivers_once(slack: FakeSlack) -> None:
    slack.inject("POST", r"chat\.postMessage$", 429, headers={"Retry-After": "0"})
    with pytest.raises(SlackApiError) as limited:
        slack_client(slack).chat_postMessage(channel="#dp_monitor_cicd", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert (
        limited.value.response.headers["Retry-After"] == ["0"]
        or limited.value.response.headers["Retry-After"] == "0"
    )

    slack.inject("POST", r"chat\.postMessage$", 429, headers={"Retry-After": "0"})
    patient = slack_client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    assert patient.chat_postMessage(channel="#dp_monitor_cicd", text="once")["ok"]
    assert [m.text for m in slack.messages] == ["once"]
    assert [r.status for r in slack.requests] == [429, 429, 200]


def test_slack_5xx(slack: FakeSlack) -> None:
    slack.inject("POST", r"chat\.postMessage$", 503)
    with pytest.raises(SlackApiError) as unavailable:
        slack_client(slack).chat_postMessage(channel="#dp_monitor_cicd", text="x")
    assert unavailable.value.response.status_code == 503
    assert slack.messages == []


def test_slack_stopped_refuses_connections_then_restarts(slack: FakeSlack) -> None:
    web = slack_client(slack)
    slack.stop()
    with pytest.raises(urllib.error.URLError):
        web.chat_postMessage(channel="#dp_monitor_cicd", text="lost")
    slack.start()
    assert web.chat_postMessage(channel="#dp_monitor_cicd", text="back")["ok"]
    assert [m.text for m in slack.messages] == ["back"]


def test_slack_form_encoded_calls_are_understood(slack: FakeSlack) -> None:
    answer = slack_client(slack).api_call(
        "chat.postMessage",
        data={
            "channel": "dp_monitor_cicd",
            "text": "form",
            "blocks": json.dumps([{"type": "divider"}]),
        },
    )
    assert answer["ok"] and slack.messages[0].blocks == [{"type": "divider"}]


def test_fakes_listen_on_loopback_only(github: FakeGitHub, slack: FakeSlack) -> None:
    assert github.url.startswith("http://127.0.0.1:") and slack.url.startswith("http://127.0.0.1:")
