"""Request handlers of the fake GitHub: users, collaborators, issues, comments, reactions, pulls.

Each handler takes a :class:`Ctx` and returns a :class:`Response`; routing, authentication and
the repository look-up happen before, in :mod:`tests.fakes.github`. The rules checked here are
GitHub's own (missing fields, the 65,536-character body limit, "A pull request already exists",
the ``head`` filter that GitHub ignores unless written ``owner:branch``), so code that works
against the fake does not trip on them in production.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.fakes.github_model import Reaction, Repo, User
from tests.fakes.github_shapes import REACTIONS, error, validation_failed
from tests.fakes.github_shapes_git import GitShapes
from tests.fakes.github_state import GitHubState
from tests.fakes.server import Request, Response

MAX_BODY = 65536


@dataclass
class Ctx:
    request: Request
    params: dict[str, str]
    viewer: User | None
    state: GitHubState
    shapes: GitShapes
    base_url: str
    found_repo: Repo | None = None

    @property
    def repo(self) -> Repo:
        assert self.found_repo is not None
        return self.found_repo

    @property
    def body(self) -> dict[str, Any]:
        return self.request.json if isinstance(self.request.json, dict) else {}

    @property
    def actor(self) -> User:
        assert self.viewer is not None, "write routes require authentication"
        return self.viewer

    def number(self, name: str) -> int:
        return int(self.params[name])

    def paginate(self, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """GitHub's page/per_page slicing and its Link header (first, prev, next, last)."""
        per_page = min(max(_int(self.request.query.get("per_page"), 30), 1), 100)
        page = max(_int(self.request.query.get("page"), 1), 1)
        last = max(math.ceil(len(items) / per_page), 1)

        def link(number: int, rel: str) -> str:
            query = {**self.request.query, "per_page": str(per_page), "page": str(number)}
            return f'<{self.base_url}{self.request.path}?{urlencode(query)}>; rel="{rel}"'

        links = []
        if page > 1:
            links += [link(min(page - 1, last), "prev")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first")]
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page : page * per_page], headers


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, payload, headers)


def fail(status: int, message: str, **extra: Any) -> Response:
    return Response.json(status, error(status, message, **extra))


def invalid(*errors: dict[str, Any], message: str = "Validation Failed") -> Response:
    return Response.json(422, validation_failed(*errors, message=message))


def not_found() -> Response:
    return fail(404, "Not Found")


def _too_long(resource: str, field: str, text: str) -> Response | None:
    if len(text) > MAX_BODY:
        return invalid(
            {
                "resource": resource,
                "code": "custom",
                "field": field,
                "message": f"{field} is too long (maximum is {MAX_BODY} characters)",
            }
        )
    return None


# users and collaborators --------------------------------------------------------------------------


def get_authenticated_user(ctx: Ctx) -> Response:
    return ok(ctx.shapes.private_user(ctx.actor))


def get_user(ctx: Ctx) -> Response:
    user = ctx.state.users.get(ctx.params["username"])
    return ok(ctx.shapes.public_user(user)) if user else not_found()


def get_repo(ctx: Ctx) -> Response:
    return ok(ctx.shapes.full_repository(ctx.repo, ctx.viewer))


def get_permission(ctx: Ctx) -> Response:
    # Any login is taken for an existing GitHub user: an outsider reads as "read" on a public
    # repository and "none" on a private one, as GitHub answers.
    return ok(ctx.shapes.permission(ctx.repo, ctx.state.add_user(ctx.params["username"])))


def check_collaborator(ctx: Ctx) -> Response:
    if ctx.repo.role_of(ctx.params["username"]) is None:
        return not_found()
    return Response(204)


# issues and comments ------------------------------------------------------------------------------


def get_issue(ctx: Ctx) -> Response:
    issue = ctx.repo.issues.get(ctx.number("issue_number"))
    return ok(ctx.shapes.issue(ctx.repo, issue)) if issue else not_found()


def list_comments(ctx: Ctx) -> Response:
    number = ctx.number("issue_number")
    if number not in ctx.repo.issues:
        return not_found()
    comments = ctx.state.comments(ctx.repo.full_name, number)
    since = ctx.request.query.get("since")
    if since:
        comments = [c for c in comments if c.updated_at >= since]
    page, headers = ctx.paginate(comments)
    return ok([ctx.shapes.comment(c) for c in page], headers=headers)


def create_comment(ctx: Ctx) -> Response:
    number = ctx.number("issue_number")
    if number not in ctx.repo.issues:
        return not_found()
    body = ctx.body.get("body")
    if not isinstance(body, str) or not body:
        return invalid({"resource": "IssueComment", "code": "missing_field", "field": "body"})
    if (problem := _too_long("IssueComment", "body", body)) is not None:
        return problem
    comment = ctx.state.new_comment(ctx.repo, number, body, ctx.actor)
    shape = ctx.shapes.comment(comment)
    return ok(shape, 201, {"Location": shape["url"]})


def _find_comment(ctx: Ctx) -> Any:
    comment = ctx.state.comments_by_id.get(ctx.number("comment_id"))
    if comment is None or comment.repo != ctx.repo.full_name:
        return None
    return comment


def get_comment(ctx: Ctx) -> Response:
    comment = _find_comment(ctx)
    return ok(ctx.shapes.comment(comment)) if comment else not_found()


def update_comment(ctx: Ctx) -> Response:
    comment = _find_comment(ctx)
    if comment is None:
        return not_found()
    body = ctx.body.get("body")
    if not isinstance(body, str) or not body:
        return invalid({"resource": "IssueComment", "code": "missing_field", "field": "body"})
    if (problem := _too_long("IssueComment", "body", body)) is not None:
        return problem
    comment.body = body
    comment.updated_at = ctx.state.now()
    return ok(ctx.shapes.comment(comment))


def delete_comment(ctx: Ctx) -> Response:
    comment = _find_comment(ctx)
    if comment is None:
        return not_found()
    del ctx.state.comments_by_id[comment.id]
    return Response(204)


def list_reactions(ctx: Ctx) -> Response:
    comment = _find_comment(ctx)
    if comment is None:
        return not_found()
    wanted = ctx.request.query.get("content")
    reactions = [r for r in comment.reactions if wanted in (None, r.content)]
    page, headers = ctx.paginate(reactions)
    return ok([ctx.shapes.reaction(r) for r in page], headers=headers)


def create_reaction(ctx: Ctx) -> Response:
    comment = _find_comment(ctx)
    if comment is None:
        return not_found()
    content = ctx.body.get("content")
    if content not in REACTIONS:
        return invalid({"resource": "Reaction", "code": "invalid", "field": "content"})
    for reaction in comment.reactions:
        if reaction.user.login == ctx.actor.login and reaction.content == content:
            return ok(ctx.shapes.reaction(reaction), 200)  # the same reaction twice: no new one
    reaction = Reaction(ctx.state.new_id(), content, ctx.actor, ctx.state.now())
    comment.reactions.append(reaction)
    return ok(ctx.shapes.reaction(reaction), 201)


# pull requests ------------------------------------------------------------------------------------


def list_pulls(ctx: Ctx) -> Response:
    query = ctx.request.query
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        return invalid({"resource": "Search", "field": "state", "code": "invalid"})
    pulls = [
        i for i in ctx.repo.issues.values() if i.pull is not None and state in ("all", i.state)
    ]
    head = query.get("head")
    if head and ":" in head:  # GitHub ignores a head filter not written owner:branch
        owner, _, ref = head.partition(":")
        pulls = [
            i
            for i in pulls
            if i.pull and i.pull.head_repo.split("/")[0] == owner and i.pull.head_ref == ref
        ]
    if query.get("base"):
        pulls = [i for i in pulls if i.pull and i.pull.base_ref == query["base"]]
    sort = query.get("sort", "created")
    key = {"updated": lambda i: (i.updated_at, i.number)}.get(sort, lambda i: (i.number,))
    pulls.sort(key=key, reverse=query.get("direction", "desc") == "desc")
    page, headers = ctx.paginate(pulls)
    return ok([ctx.shapes.pull(ctx.repo, i, full=False) for i in page], headers=headers)


def get_pull(ctx: Ctx) -> Response:
    issue = ctx.repo.issues.get(ctx.number("pull_number"))
    if issue is None or issue.pull is None:
        return not_found()
    return ok(ctx.shapes.pull(ctx.repo, issue, full=True))


def _open_duplicate(repo: Repo, head_repo: str, head: str, base: str, number: int = 0) -> bool:
    return any(
        i.pull is not None
        and i.state == "open"
        and i.number != number
        and i.pull.head_repo == head_repo
        and i.pull.head_ref == head
        and i.pull.base_ref == base
        for i in repo.issues.values()
    )


def _already_exists(owner: str, ref: str) -> Response:
    message = f"A pull request already exists for {owner}:{ref}."
    return invalid({"resource": "PullRequest", "code": "custom", "message": message})


def create_pull(ctx: Ctx) -> Response:
    repo, body = ctx.repo, ctx.body
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    for name, value in (("title", title), ("head", head), ("base", base)):
        if not isinstance(value, str) or not value:
            return invalid({"resource": "PullRequest", "code": "missing_field", "field": name})
    assert isinstance(head, str) and isinstance(base, str) and isinstance(title, str)
    head_owner, _, head_ref = head.rpartition(":")
    head_repo = repo
    if head_owner and head_owner != repo.owner.login:
        fork = ctx.state.repos.get(f"{head_owner}/{repo.name}")
        if fork is None:
            return invalid({"resource": "PullRequest", "code": "invalid", "field": "head"})
        head_repo = fork
    head_sha = head_repo.refs.get(f"refs/heads/{head_ref}")
    base_sha = repo.refs.get(f"refs/heads/{base}")
    if base_sha is None:
        return invalid({"resource": "PullRequest", "code": "invalid", "field": "base"})
    if head_sha is None:
        return invalid({"resource": "PullRequest", "code": "invalid", "field": "head"})
    if _open_duplicate(repo, head_repo.full_name, head_ref, base):
        return _already_exists(head_repo.owner.login, head_ref)
    if head_sha in repo.ancestors(base_sha) or head_sha == base_sha:
        return invalid(
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": f"No commits between {base} and {head_ref}",
            }
        )
    text = body.get("body")
    if isinstance(text, str) and (problem := _too_long("PullRequest", "body", text)) is not None:
        return problem
    issue = ctx.state.open_pull(
        repo,
        head_ref,
        base,
        title,
        text if isinstance(text, str) else None,
        ctx.actor,
        bool(body.get("draft", False)),
        head_repo,
    )
    if "maintainer_can_modify" in body:
        assert issue.pull is not None
        issue.pull.maintainer_can_modify = bool(body["maintainer_can_modify"])
    shape = ctx.shapes.pull(repo, issue, full=True)
    return ok(shape, 201, {"Location": shape["url"]})


def list_pull_commits(ctx: Ctx) -> Response:
    """The PR's commits: reachable from its head, not from its base branch; oldest first (the
    list items lack ``files``, as GitHub's do)."""
    repo = ctx.repo
    issue = repo.issues.get(ctx.number("pull_number"))
    if issue is None or issue.pull is None:
        return not_found()
    head = repo.pull_head_sha(issue.pull, ctx.state.repos)
    base = repo.refs.get(f"refs/heads/{issue.pull.base_ref}")
    shas = repo.ancestors(head) - (repo.ancestors(base) if base else set())
    commits = sorted((repo.commits[s] for s in shas), key=lambda c: (c.date, c.sha))
    page, headers = ctx.paginate(commits)
    shaped = [{k: v for k, v in ctx.shapes.commit(repo, c).items() if k != "files"} for c in page]
    return ok(shaped, headers=headers)


def list_reviews(ctx: Ctx) -> Response:
    issue = ctx.repo.issues.get(ctx.number("pull_number"))
    if issue is None or issue.pull is None:
        return not_found()
    page, headers = ctx.paginate(list(issue.pull.reviews))
    return ok([ctx.shapes.review(ctx.repo, issue, r) for r in page], headers=headers)


def get_team_membership(ctx: Ctx) -> Response:
    # GitHub answers 404 alike for a missing team and for a user who is not a member
    org, slug, login = ctx.params["org"], ctx.params["team_slug"], ctx.params["username"]
    members = ctx.state.team_members.get((org.lower(), slug.lower()), {})
    if login not in members:
        return not_found()
    return ok(ctx.shapes.team_membership(org, slug, login, members[login]))


def update_pull(ctx: Ctx) -> Response:
    repo, body = ctx.repo, ctx.body
    issue = repo.issues.get(ctx.number("pull_number"))
    if issue is None or issue.pull is None:
        return not_found()
    pull = issue.pull
    if "state" in body:
        if body["state"] not in ("open", "closed"):
            return invalid({"resource": "PullRequest", "code": "invalid", "field": "state"})
        if body["state"] == "open" and issue.state == "closed":
            if pull.merged_at is not None:
                return invalid(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "Cannot reopen a merged pull request",
                    }
                )
            if _open_duplicate(repo, pull.head_repo, pull.head_ref, pull.base_ref, issue.number):
                return _already_exists(pull.head_repo.split("/")[0], pull.head_ref)
    if "base" in body and f"refs/heads/{body['base']}" not in repo.refs:
        return invalid({"resource": "PullRequest", "code": "invalid", "field": "base"})
    if isinstance(body.get("body"), str) and (
        problem := _too_long("PullRequest", "body", body["body"])
    ):
        return problem
    stamp = ctx.state.now()
    if "title" in body:
        issue.title = str(body["title"])
    if "body" in body:
        issue.body = body["body"]
    if "base" in body:
        pull.base_ref = str(body["base"])
    if "maintainer_can_modify" in body:
        pull.maintainer_can_modify = bool(body["maintainer_can_modify"])
    if "state" in body and body["state"] != issue.state:
        issue.state = body["state"]
        issue.closed_at = stamp if issue.state == "closed" else None
    issue.updated_at = stamp
    return ok(ctx.shapes.pull(repo, issue, full=True))
