"""Request handlers of the fake GitHub: commits and their statuses, git refs, branches, contents."""

from __future__ import annotations

import base64
import binascii

from tests.fakes.github_api import Ctx, fail, invalid, not_found, ok
from tests.fakes.github_model import Status, git_sha
from tests.fakes.server import Response

STATUS_STATES = ("error", "failure", "pending", "success")
MAX_STATUSES_PER_CONTEXT = 1000


# commits and statuses -----------------------------------------------------------------------------


def get_commit(ctx: Ctx) -> Response:
    sha = ctx.repo.resolve(ctx.params["ref"])
    if sha is None:
        return fail(422, f"No commit found for SHA: {ctx.params['ref']}")
    return ok(ctx.shapes.commit(ctx.repo, ctx.repo.commits[sha]))


def create_status(ctx: Ctx) -> Response:
    repo, body, sha = ctx.repo, ctx.body, ctx.params["sha"]
    if sha not in repo.commits:  # a full sha only: GitHub does not resolve branches here
        return fail(422, f"No commit found for SHA: {sha}")
    state = body.get("state")
    if state not in STATUS_STATES:
        return invalid(
            {
                "resource": "Status",
                "code": "custom",
                "field": "state",
                "message": f"state is not included in the list {list(STATUS_STATES)}",
            }
        )
    description = body.get("description")
    if isinstance(description, str) and len(description) > 140:
        return invalid(
            {
                "resource": "Status",
                "code": "custom",
                "field": "description",
                "message": "description is too long (maximum is 140 characters)",
            }
        )
    context = body.get("context") or "default"
    existing = repo.statuses.setdefault(sha, [])
    if sum(s.context == context for s in existing) >= MAX_STATUSES_PER_CONTEXT:
        return invalid(
            {
                "resource": "Status",
                "code": "custom",
                "message": "This SHA and context has reached the maximum number of statuses.",
            }
        )
    status = Status(
        ctx.state.new_id(),
        sha,
        state,
        description,
        body.get("target_url"),
        str(context),
        ctx.actor,
        ctx.state.now(),
    )
    existing.append(status)
    shape = ctx.shapes.status(repo, status)
    return ok(shape, 201, {"Location": shape["url"]})


def list_statuses(ctx: Ctx) -> Response:
    sha = ctx.repo.resolve(ctx.params.get("ref") or ctx.params["sha"])
    if sha is None:
        return not_found()
    newest_first = sorted(ctx.repo.statuses.get(sha, []), key=lambda s: s.id, reverse=True)
    page, headers = ctx.paginate(newest_first)
    return ok([ctx.shapes.status(ctx.repo, s) for s in page], headers=headers)


def combined_status(ctx: Ctx) -> Response:
    sha = ctx.repo.resolve(ctx.params["ref"])
    if sha is None:
        return not_found()
    return ok(ctx.shapes.combined_status(ctx.repo, sha))


# git refs -----------------------------------------------------------------------------------------


def get_ref(ctx: Ctx) -> Response:
    ref = f"refs/{ctx.params['ref']}"
    return ok(ctx.shapes.git_ref(ctx.repo, ref)) if ref in ctx.repo.refs else not_found()


def list_matching_refs(ctx: Ctx) -> Response:
    prefix = f"refs/{ctx.params.get('ref', '')}"
    refs = sorted(r for r in ctx.repo.refs if r.startswith(prefix))
    page, headers = ctx.paginate(refs)
    return ok([ctx.shapes.git_ref(ctx.repo, r) for r in page], headers=headers)


def create_ref(ctx: Ctx) -> Response:
    repo, ref, sha = ctx.repo, ctx.body.get("ref"), ctx.body.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        return fail(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or sha not in repo.commits:
        return fail(422, "Object does not exist")
    if ref in repo.refs:
        return fail(422, "Reference already exists")
    repo.refs[ref] = sha
    shape = ctx.shapes.git_ref(repo, ref)
    return ok(shape, 201, {"Location": shape["url"]})


def update_ref(ctx: Ctx) -> Response:
    repo, ref, sha = ctx.repo, f"refs/{ctx.params['ref']}", ctx.body.get("sha")
    if ref not in repo.refs:
        return fail(422, "Reference does not exist")
    if not isinstance(sha, str) or sha not in repo.commits:
        return fail(422, "Object does not exist")
    if not ctx.body.get("force") and repo.refs[ref] not in repo.ancestors(sha):
        return fail(422, "Update is not a fast forward")
    repo.refs[ref] = sha
    return ok(ctx.shapes.git_ref(repo, ref))


def delete_ref(ctx: Ctx) -> Response:
    ref = f"refs/{ctx.params['ref']}"
    if ref not in ctx.repo.refs:
        return fail(422, "Reference does not exist")
    del ctx.repo.refs[ref]
    return Response(204)


# branches -----------------------------------------------------------------------------------------


def list_branches(ctx: Ctx) -> Response:
    names = sorted(
        r.removeprefix("refs/heads/") for r in ctx.repo.refs if r.startswith("refs/heads/")
    )
    page, headers = ctx.paginate(names)
    return ok([ctx.shapes.short_branch(ctx.repo, n) for n in page], headers=headers)


def get_branch(ctx: Ctx) -> Response:
    name = ctx.params["branch"]
    if f"refs/heads/{name}" not in ctx.repo.refs:
        return fail(404, "Branch not found")
    return ok(ctx.shapes.branch(ctx.repo, name))


# contents -----------------------------------------------------------------------------------------


def get_contents(ctx: Ctx) -> Response:
    repo, path = ctx.repo, ctx.params.get("path", "").strip("/")
    ref = ctx.request.query.get("ref") or repo.default_branch
    sha = repo.resolve(ref)
    if sha is None:
        return fail(404, f"No commit found for the ref {ref}")
    tree = repo.commits[sha].tree
    if path in tree:
        return ok(ctx.shapes.content_file(repo, path, ref, tree[path]))
    listing = ctx.shapes.content_dir(repo, path, ref, tree)
    return ok(listing) if listing else not_found()


def _branch_head(ctx: Ctx) -> tuple[str, str] | Response:
    branch = ctx.body.get("branch") or ctx.repo.default_branch
    sha = ctx.repo.refs.get(f"refs/heads/{branch}")
    if sha is None:
        return fail(404, f"Branch {branch} not found")
    return str(branch), sha


def put_contents(ctx: Ctx) -> Response:
    repo, body, path = ctx.repo, ctx.body, ctx.params["path"].strip("/")
    for name in ("message", "content"):
        if not isinstance(body.get(name), str):
            return invalid(
                {"resource": "Contents", "code": "missing_field", "field": name},
                message=f'Invalid request.\n\n"{name}" wasn\'t supplied.',
            )
    try:
        data = base64.b64decode(body["content"], validate=True)
    except binascii.Error:
        return invalid(
            {"resource": "Contents", "code": "invalid", "field": "content"},
            message="content is not valid Base64",
        )
    head = _branch_head(ctx)
    if isinstance(head, Response):
        return head
    branch, parent = head
    current = repo.commits[parent].tree.get(path)
    if current is not None and "sha" not in body:
        return invalid(
            {"resource": "Contents", "code": "missing_field", "field": "sha"},
            message='Invalid request.\n\n"sha" wasn\'t supplied.',
        )
    if current is not None and body["sha"] != git_sha("blob", current):
        return fail(409, f"{path} does not match {body['sha']}")
    commit = ctx.state.commit_files(
        repo, parent, {path: data}, body["message"], ctx.actor, branch=branch
    )
    return ok(ctx.shapes.file_commit(repo, commit, path, branch), 201 if current is None else 200)


def delete_contents(ctx: Ctx) -> Response:
    repo, body, path = ctx.repo, ctx.body, ctx.params["path"].strip("/")
    for name in ("message", "sha"):
        if not isinstance(body.get(name), str):
            return invalid(
                {"resource": "Contents", "code": "missing_field", "field": name},
                message=f'Invalid request.\n\n"{name}" wasn\'t supplied.',
            )
    head = _branch_head(ctx)
    if isinstance(head, Response):
        return head
    branch, parent = head
    current = repo.commits[parent].tree.get(path)
    if current is None:
        return not_found()
    if body["sha"] != git_sha("blob", current):
        return fail(409, f"{path} does not match {body['sha']}")
    commit = ctx.state.commit_files(
        repo, parent, {path: None}, body["message"], ctx.actor, branch=branch
    )
    return ok(ctx.shapes.file_commit(repo, commit, path, branch))
