"""Publish one project's DAG files: one branch ``somlier/<project>`` and one open PR for it.

An attempt reads the remote (default branch, the project's branch, its open PR), decides, builds
one commit and pushes it with a lease on the branch as it was read. When another run moved the
branch in between, the push is refused and the whole attempt runs again on the new state, a
bounded number of times, with jittered waits, so two runs publishing at once both land.

Where the commit goes:

- an open PR from the branch, or a retry after another run pushed the branch: on top of the
  branch (the PR keeps its history; both runs' commits land, the later one on top);
- no open PR (none yet, or one closed or merged with its branch left over): on the default
  branch, force-pushed over whatever the branch held, and a new PR is opened.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from pipeline.forge.pulls import PullRef
from pipeline.gitops import proposal
from pipeline.gitops.clone import PublishError, RepoClone, is_ancestor
from pipeline.gitops.publication import Identity, PublishRequest, PublishResult, Status
from pipeline.secret import Secret

ATTEMPTS = 5
DELAY = 0.5  # seconds before the second attempt; doubled each time, jittered
MAX_DELAY = 8.0

Log = Callable[[str], None]
T = TypeVar("T")


def backoff(attempt: int, delay: float, rng: random.Random) -> float:
    """The wait after failed ``attempt`` (1-based): exponential, capped, jittered so two runs
    that collided do not collide again."""
    return float(min(MAX_DELAY, delay * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.5))


def publish_dags(
    request: PublishRequest,
    *,
    environ: Mapping[str, str],
    attempts: int = ATTEMPTS,
    delay: float = DELAY,
    sleep: Callable[[float], None] = time.sleep,
    log: Log | None = None,
) -> PublishResult:
    """Open or update the one PR carrying ``request.files`` as ``dags/<project>/``.

    Returns status ``unchanged`` (nothing pushed, no PR call but one look-up), ``opened``,
    ``updated``, ``superseded`` (a newer source commit is already on the PR) or, for a dry run,
    ``planned`` with the diff. Raises :class:`PublishError` when git fails or the branch kept
    moving, :class:`pipeline.forge.github.ForgeError` when GitHub refuses the PR.
    ``environ``: where PATH and proxy settings for git come from (read at the CLI edge).
    """
    say = log or (lambda _text: None)

    def retrying(attempt: int, wait: float) -> None:
        say(
            f"{request.project}: {request.branch} moved while publishing; "
            f"retrying in {wait:.1f}s (attempt {attempt + 1}/{attempts})"
        )

    return with_retries(
        lambda clone, attempt: _attempt(request, clone, attempt, say),
        workdir=request.workdir,
        prefix=f"publish-{request.project}-",
        clone_url=request.clone_url,
        token=request.token,
        identity=request.identity,
        environ=environ,
        attempts=attempts,
        delay=delay,
        sleep=sleep,
        retrying=retrying,
        gave_up=PublishError(
            f"{request.project}: {request.branch} kept moving; gave up after {attempts} attempts",
            hint="other runs are publishing this project at the same time: run this one again",
        ),
    )


def with_retries(
    attempt: Callable[[RepoClone, int], T | None],
    *,
    workdir: Path,
    prefix: str,
    clone_url: str,
    token: Secret | None,
    identity: Identity,
    environ: Mapping[str, str],
    attempts: int,
    delay: float,
    sleep: Callable[[float], None],
    retrying: Callable[[int, float], None],
    gave_up: PublishError,
) -> T:
    """Run ``attempt(clone, n)`` in a scratch clone of ``clone_url`` until it returns a result
    (``None``: a push lost a race), at most ``attempts`` times with jittered backoff between
    (``retrying(n, wait)`` says so); then raise ``gave_up``. The scratch folder is removed."""
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=workdir))
    rng = random.Random()  # noqa: S311 (jitter, not a secret)
    try:
        clone = RepoClone(scratch, clone_url, token=token, identity=identity, environ=environ)
        for n in range(1, attempts + 1):
            result = attempt(clone, n)
            if result is not None:
                return result
            if n < attempts:
                wait = backoff(n, delay, rng)
                retrying(n, wait)
                sleep(wait)
        raise gave_up
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _attempt(
    request: PublishRequest, clone: RepoClone, attempt: int, say: Log
) -> PublishResult | None:
    """One read-decide-push round; ``None`` when the push lost a race."""
    fetched = clone.fetch_branches(
        request.branch,
        request.base_branch,
        what=f"the dags repository {request.repo}",
        setting="github.dags_repo",
    )
    base, base_sha, branch_sha = fetched.base, fetched.base_sha, fetched.branch_sha

    pull: PullRef | None = None
    if branch_sha is not None and request.forge is not None:
        pull = request.forge.find_open(request.branch, base)
    # After a lost race the branch is live (another run just pushed it), not a leftover of a
    # closed PR: go on top of it even when that run has not opened its PR yet, so both land.
    live = pull is not None or attempt > 1
    parent = branch_sha if live and branch_sha is not None else base_sha

    folder = request.folder
    base_tree = clone.tree(base_sha, folder)
    parent_tree = base_tree if parent == base_sha else clone.tree(parent, folder)
    final = proposal.target_tree(parent_tree, request.files, prune=request.prune)
    against_base = proposal.diff_trees(base_tree, final)
    this_commit = proposal.diff_trees(parent_tree, final)

    def result(status: Status, commit: str | None = None, diff: str = "") -> PublishResult:
        return PublishResult(
            project=request.project,
            status=status,
            branch=request.branch,
            base=base,
            changes=against_base,
            commit=commit,
            pull_number=pull.number if pull else None,
            pull_url=pull.url if pull else None,
            attempts=attempt,
            diff=diff,
        )

    if this_commit.empty:
        where = request.branch if parent != base_sha else base
        say(f"{request.project}: {folder}/ on {where} already holds these DAGs")
        return result("unchanged")
    if parent != base_sha and _superseded(request, clone, parent):
        say(f"{request.project}: {request.branch} holds a newer source commit; not overwritten")
        return result("superseded")

    message = proposal.commit_message(request, this_commit)
    gone = sorted(parent_tree.keys() - final.keys())
    commit = clone.build_commit(parent, folder, gone, request.files, message)
    if request.dry_run:
        return result("planned", commit, clone.diff(base_sha, commit, folder))
    pushed = clone.push(commit, request.branch, branch_sha)
    if pushed.state == "conflict":
        return None
    say(f"{request.project}: pushed {request.branch} at {commit[:12]} ({this_commit.describe()})")
    assert request.forge is not None  # checked with the request: only a dry run has none
    # looked=True: find_open ran above, or there was no branch and so no PR open from it. A PR
    # another run opened since comes back as 422 "already exists" and is updated instead.
    upserted = request.forge.upsert(
        request.branch,
        base,
        title=proposal.pr_title(request.project),
        body=proposal.pr_body(
            request, against_base, base, this_commit if parent != base_sha else None
        ),
        found=pull,
        looked=True,
    )
    pull = upserted.pull
    return result("opened" if upserted.created else "updated", commit)


def _superseded(request: PublishRequest, clone: RepoClone, head: str) -> bool:
    """Whether the branch head was published from a newer commit of the same source."""
    if request.source_root is None:
        return False
    found = proposal.source_of(clone.message(head))
    if found is None or found[0] != request.source_repo or found[1] == request.source_commit:
        return False
    return is_ancestor(request.source_root, request.source_commit, found[1]) is True
