"""A stateful fake of the GitHub REST API on loopback, for PyGithub through ``base_url``.

    with FakeGitHub() as gh:
        gh.add_repo("acme/ml-projects")
        number = gh.add_pull("acme/ml-projects", "feature")
        client = Github(base_url=gh.url, auth=Auth.Token("t"), retry=None,
                        seconds_between_requests=0, seconds_between_writes=0)
        client.get_repo("acme/ml-projects").get_pull(number).create_issue_comment("hi")
        assert [c.body for c in gh.comments("acme/ml-projects", number)] == ["hi"]

(``tests.fakes.fixtures.pygithub(gh)`` builds that client.)

Every answer carries GitHub's rate-limit headers (``X-RateLimit-*``, counted per request, as
GitHub counts them) and list answers are paginated with a ``Link`` header. A request with
``X-GitHub-Api-Version: 2026-03-10`` gets that version's shapes (a few fields removed); without
the header, as PyGithub sends it, the answer is the 2022-11-28 shape.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes import github_api as api
from tests.fakes import github_git as git
from tests.fakes.faults import Fault
from tests.fakes.github_api import Ctx, fail
from tests.fakes.github_model import User
from tests.fakes.github_shapes import error, validation_failed
from tests.fakes.github_shapes_git import GitShapes
from tests.fakes.github_state import GitHubState
from tests.fakes.server import FakeServer, Request, Response

API_VERSIONS = ("2022-11-28", "2026-03-10")
# fields the 2026-03-10 API version no longer sends
_REMOVED_IN_2026 = frozenset(
    {
        "assignee",
        "merge_commit_sha",
        "has_downloads",
        "use_squash_pr_title_as_default",
        "master_branch",
    }
)
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes "
    "before you try again. If you reach out to GitHub Support for help, "
    "please include the request ID {request_id}."
)

Handler = Callable[[Ctx], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # GitHub's path template, as in its OpenAPI description
    handler: Handler
    pattern: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "path":  # may hold slashes, and be empty (the root folder)
            return f"(?P<{name}>.*)"
        if name in ("ref", "branch"):  # may hold slashes
            return f"(?P<{name}>.+)"
        if name.endswith(("_number", "_id")):
            return f"(?P<{name}>[0-9]+)"
        return f"(?P<{name}>[^/]+)"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", group, re.escape(template)) + "$")


def _rate_limit(ctx: Ctx) -> Response:
    assert isinstance(ctx.state, FakeGitHub)
    version = ctx.request.header("x-github-api-version") or API_VERSIONS[0]
    return Response.json(200, ctx.state._rate_limit_body(version))


_R = "/repos/{owner}/{repo}"
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/rate_limit", _rate_limit),
    ("GET", "/user", api.get_authenticated_user),
    ("GET", "/users/{username}", api.get_user),
    ("GET", _R, api.get_repo),
    ("GET", f"{_R}/collaborators/{{username}}", api.check_collaborator),
    ("GET", f"{_R}/collaborators/{{username}}/permission", api.get_permission),
    ("GET", f"{_R}/issues/{{issue_number}}", api.get_issue),
    ("GET", f"{_R}/issues/{{issue_number}}/comments", api.list_comments),
    ("POST", f"{_R}/issues/{{issue_number}}/comments", api.create_comment),
    ("GET", f"{_R}/issues/comments/{{comment_id}}", api.get_comment),
    ("PATCH", f"{_R}/issues/comments/{{comment_id}}", api.update_comment),
    ("DELETE", f"{_R}/issues/comments/{{comment_id}}", api.delete_comment),
    ("GET", f"{_R}/issues/comments/{{comment_id}}/reactions", api.list_reactions),
    ("POST", f"{_R}/issues/comments/{{comment_id}}/reactions", api.create_reaction),
    ("GET", f"{_R}/pulls", api.list_pulls),
    ("POST", f"{_R}/pulls", api.create_pull),
    ("GET", f"{_R}/pulls/{{pull_number}}", api.get_pull),
    ("PATCH", f"{_R}/pulls/{{pull_number}}", api.update_pull),
    ("GET", f"{_R}/pulls/{{pull_number}}/reviews", api.list_reviews),
    ("GET", f"{_R}/pulls/{{pull_number}}/commits", api.list_pull_commits),
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", api.get_team_membership),
    ("POST", f"{_R}/statuses/{{sha}}", git.create_status),
    ("GET", f"{_R}/statuses/{{sha}}", git.list_statuses),  # legacy, PyGithub's get_statuses()
    ("GET", f"{_R}/commits/{{ref}}/statuses", git.list_statuses),
    ("GET", f"{_R}/commits/{{ref}}/status", git.combined_status),
    ("GET", f"{_R}/commits/{{ref}}", git.get_commit),
    ("GET", f"{_R}/git/ref/{{ref}}", git.get_ref),
    ("GET", f"{_R}/git/matching-refs/{{ref}}", git.list_matching_refs),
    ("GET", f"{_R}/git/refs", git.list_matching_refs),  # legacy, PyGithub's get_git_refs()
    ("POST", f"{_R}/git/refs", git.create_ref),
    ("PATCH", f"{_R}/git/refs/{{ref}}", git.update_ref),
    ("DELETE", f"{_R}/git/refs/{{ref}}", git.delete_ref),
    ("GET", f"{_R}/branches", git.list_branches),
    ("GET", f"{_R}/branches/{{branch}}", git.get_branch),
    ("GET", f"{_R}/contents/{{path}}", git.get_contents),
    ("PUT", f"{_R}/contents/{{path}}", git.put_contents),
    ("DELETE", f"{_R}/contents/{{path}}", git.delete_contents),
)
_ROUTES = tuple(Route(m, t, h, _compile(t)) for m, t, h in ROUTES)
_UNCOUNTED = "/rate_limit"  # GitHub does not count calls to it


class FakeGitHub(FakeServer, GitHubState):
    """The fake. Seed it with ``add_repo``, ``add_pull``, ``add_collaborator``… (see
    :class:`GitHubState`), point PyGithub at :attr:`url`, read ``requests`` and the state back.

    ``login``: the user every token authenticates as. ``tokens``: when given, only these tokens
    are accepted, each as its login (``{"t-alice": "alice"}``); others get 401.
    ``rate_limit``: the hourly budget; past it, answers are 403 "API rate limit exceeded".
    """

    routes = ROUTES

    def __init__(
        self,
        *,
        login: str = "somlier-bot",
        tokens: Mapping[str, str] | None = None,
        rate_limit: int = 5000,
    ) -> None:
        FakeServer.__init__(self)
        self._init_state()
        self.login = login
        self.add_user(login)
        self.tokens = dict(tokens) if tokens is not None else None
        for name in (self.tokens or {}).values():
            self.add_user(name)
        self.rate_limit = rate_limit
        self.rate_used = 0
        self.rate_reset = int(time.time()) + 3600

    @property
    def api_calls(self) -> int:
        """Requests that counted against the rate limit (GitHub's ``X-RateLimit-Used``)."""
        return self.rate_used

    @property
    def unrouted(self) -> list[Any]:
        """Recorded requests the fake had no route for (it answered 404)."""
        return [r for r in self.requests if r.route is None and r.fault is None]

    # serving -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[str | None, Response]:
        version = request.header("x-github-api-version") or API_VERSIONS[0]
        if version not in API_VERSIONS:
            return None, Response.json(
                400, error(400, f"API version '{version}' is not supported.")
            )
        route, params = self._route(request)
        if route is None:
            return None, api.not_found()
        viewer = self._authenticate(request)
        if isinstance(viewer, Response):
            return route.template, viewer
        if viewer is None and (request.method != "GET" or route.template == "/user"):
            return route.template, fail(401, "Requires authentication")
        if self.rate_used >= self.rate_limit and route.template != _UNCOUNTED:
            return route.template, fail(
                403, f"API rate limit exceeded for user ID {viewer.id if viewer else 0}."
            )
        if request.bad_json:
            return route.template, fail(400, "Problems parsing JSON")
        ctx = Ctx(request, params, viewer, self, GitShapes(self.url, self), self.url)
        if "owner" in params:
            repo = self.repos.get(f"{params['owner']}/{params['repo']}")
            if repo is None or (
                repo.private and (viewer is None or repo.role_of(viewer.login) is None)
            ):
                return route.template, api.not_found()
            ctx.found_repo = repo
        response = route.handler(ctx)
        if version != API_VERSIONS[0] and response.body:
            response.body = json.dumps(_strip(json.loads(response.body))).encode()
        return route.template, response

    def _route(self, request: Request) -> tuple[Route | None, dict[str, str]]:
        for route in _ROUTES:
            if route.method == request.method and (match := route.pattern.match(request.path)):
                return route, match.groupdict()
        return None, {}

    def _authenticate(self, request: Request) -> User | Response | None:
        header = request.header("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            return fail(401, "Bad credentials")
        if self.tokens is None:
            return self.users[self.login]
        login = self.tokens.get(token)
        return self.users[login] if login else fail(401, "Bad credentials")

    def finish(self, request: Request, response: Response) -> Response:
        if request.path != _UNCOUNTED:
            self.rate_used += 1
        present = {name.lower() for name in response.headers}
        version = request.header("x-github-api-version") or API_VERSIONS[0]
        for name, value in (
            ("X-RateLimit-Limit", str(self.rate_limit)),
            ("X-RateLimit-Remaining", str(max(self.rate_limit - self.rate_used, 0))),
            ("X-RateLimit-Reset", str(self.rate_reset)),
            ("X-RateLimit-Used", str(self.rate_used)),
            ("X-RateLimit-Resource", "core"),
            ("X-GitHub-Api-Version-Selected", version),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper()),
        ):
            if name.lower() not in present:
                response.headers[name] = value
        return response

    def fault_body(self, request: Request, fault: Fault) -> Any:
        status = fault.status or 500
        request_id = uuid.uuid4().hex[:20].upper()
        if status == 429 or (
            status == 403 and any(h.lower() == "retry-after" for h in fault.headers)
        ):
            return error(status, SECONDARY_RATE_LIMIT.format(request_id=request_id))
        if status == 403:
            return error(403, "Resource not accessible by integration")
        if status == 422:
            return self._already_exists(request)
        if status >= 500:
            return error(status, "Server Error")
        return error(
            status, {401: "Bad credentials", 404: "Not Found", 409: "Conflict"}.get(status, "Error")
        )

    @staticmethod
    def _already_exists(request: Request) -> dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        if request.method == "POST" and request.path.endswith("/pulls"):
            owner = request.path.split("/")[2]
            head = str(body.get("head", ""))
            head = head if ":" in head else f"{owner}:{head}"
            return validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {head}.",
                }
            )
        if request.method == "POST" and request.path.endswith("/git/refs"):
            return error(422, "Reference already exists")
        return validation_failed({"resource": "Issue", "code": "already_exists"})

    def _rate_limit_body(self, version: str) -> dict[str, Any]:
        core = {
            "limit": self.rate_limit,
            "used": self.rate_used,
            "remaining": max(self.rate_limit - self.rate_used, 0),
            "reset": self.rate_reset,
        }
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": self.rate_reset}
        body: dict[str, Any] = {
            "resources": {
                "core": core,
                "search": other,
                "graphql": {**other, "limit": 5000, "remaining": 5000},
            }
        }
        if version == API_VERSIONS[0]:
            body["rate"] = core
        return body


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _REMOVED_IN_2026}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
