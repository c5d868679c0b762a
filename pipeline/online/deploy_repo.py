"""The deploy repository (GitOps): where a model's manifests live, its release record, and the
one branch and pull request per model and environment that change them.

Layout: ``<env>/<model>/`` holds the manifests (``deployment.yaml``, ``service.yaml``,
``hpa.yaml``, ``pdb.yaml``, ``virtualservice.yaml`` with Istio) and ``release.yaml``, the release
record (:mod:`pipeline.online.release`). Argo CD or Flux applies the folder as it is; a rollback
reads the record from the default branch (what is deployed).

Git work reuses the DAG publisher's machinery (:class:`pipeline.gitops.clone.RepoClone`: a
scratch repository, the token only in an HTTP header, pushes with a lease, redacted errors) and
its pull request upsert; the branch ``somlier/deploy/<model>-<env>`` is rebuilt on the default
branch by every run (one commit), so the PR always shows exactly what merging deploys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import UserError
from pipeline.forge.repo_names import is_repo
from pipeline.gitops import Identity, PullForge, split_credentials
from pipeline.gitops.clone import PublishError, RepoClone
from pipeline.gitops.proposal import FILE_MODE, Entry, blob_id, encode
from pipeline.gitops.publication import check_target
from pipeline.gitops.publisher import ATTEMPTS, DELAY, with_retries
from pipeline.online.manifests import Manifest, ServingSpec, model_label, object_name
from pipeline.online.release import Action
from pipeline.secret import Secret

RELEASE_FILE = "release.yaml"
MARKER = "<!-- somlier:deploy {model} {env} -->"
_NULL_OID = "0" * 40

Status = Literal["opened", "updated", "unchanged", "planned"]


def folder(model_name: str, env: str) -> str:
    return f"{env}/{model_label(model_name)}"


def branch(model_name: str, env: str) -> str:
    return f"somlier/deploy/{object_name(model_name, env)}"


# the pull request --------------------------------------------------------------------------------


def pr_title(action: Action, spec: ServingSpec) -> str:
    verb = "roll back" if action == "rollback" else "deploy"
    return f"somlier: {verb} {spec.model_name} v{spec.model_version} to {spec.env}"


def pr_body(
    action: Action, spec: ServingSpec, manifests: list[Manifest], previous: str | None
) -> str:
    where = folder(spec.model_name, spec.env)
    lines = [
        MARKER.format(model=model_label(spec.model_name), env=spec.env),
        f"{'Rolls back' if action == 'rollback' else 'Deploys'} **{spec.model_name}** "
        f"version **{spec.model_version}** to **{spec.env}**"
        + (f" (currently deployed: version {previous})." if previous else " (first release)."),
        "",
        f"- image: `{spec.image}`",
        f"- namespace: `{spec.namespace}`, replicas {spec.min_replicas}–{spec.max_replicas}, "
        f"cpu {spec.cpu}, memory {spec.memory}"
        + (f", {spec.gpu_count} GPU" if spec.gpu_count else "")
        + (", Istio VirtualService" if spec.istio else ""),
        "",
        "| file | kind |",
        "| --- | --- |",
        *[f"| `{where}/{m.filename}` | {m.kind} |" for m in manifests],
        "",
        "Every manifest was validated with kubernetes-validate `--strict`. Merging this pull "
        "request deploys it (Argo CD / Flux apply the folder). The branch belongs to somlier and "
        "is rewritten on every deploy or rollback of this model and environment.",
    ]
    return "\n".join(lines) + "\n"


# publishing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What one run writes: the full folder content, and the PR text."""

    files: Mapping[str, str]  # file name inside the folder -> text
    title: str
    body: str
    message: str


# Given the base branch's release.yaml (None: no release yet), what to write.
Planner = Callable[[str | None], Change]


@dataclass(frozen=True)
class GitOpsRequest:
    clone_url: str
    repo: str  # owner/name of the deploy repository
    model_name: str
    env: str
    workdir: Path
    forge: PullForge | None = field(default=None, repr=False, compare=False)
    token: Secret | None = None
    base_branch: str | None = None
    identity: Identity = field(default_factory=Identity)
    dry_run: bool = False
    # called right before the push; raises to stop it (a prod approval withdrawn meanwhile)
    before_push: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        url, token = split_credentials(self.clone_url)
        object.__setattr__(self, "clone_url", url)
        if token is not None:
            object.__setattr__(self, "token", token)
        if not is_repo(self.repo):
            raise UserError(
                f"deploy repository {self.repo!r} is not written owner/name",
                hint="set github.deploy_repo in .somlier/platform.yaml",
            )
        check_target(self.base_branch, self.clone_url, "deploy repository")
        if self.forge is None and not self.dry_run:
            raise UserError(
                "deploying on Kubernetes opens a pull request: it needs a GitHub token",
                hint="set the variable named by github.token_env, or pass --dry-run",
            )

    @property
    def branch(self) -> str:
        return branch(self.model_name, self.env)

    @property
    def folder(self) -> str:
        return folder(self.model_name, self.env)


@dataclass(frozen=True)
class GitOpsResult:
    status: Status
    branch: str
    base: str
    folder: str
    files: tuple[str, ...]  # written
    removed: tuple[str, ...]
    commit: str | None = None
    pull_number: int | None = None
    pull_url: str | None = None
    diff: str = ""  # a dry run: what the PR would change

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "branch": self.branch,
            "base": self.base,
            "folder": self.folder,
            "files": list(self.files),
            "removed": list(self.removed),
            "commit": self.commit,
            "pull_number": self.pull_number,
            "pull_url": self.pull_url,
        }


def publish(
    request: GitOpsRequest,
    planner: Planner,
    *,
    environ: Mapping[str, str],
    attempts: int = ATTEMPTS,
    delay: float = DELAY,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _text: None,
) -> GitOpsResult:
    """Write ``planner(current release.yaml)`` as ``<env>/<model>/`` on the branch (one commit
    on the default branch) and open or update its PR. A branch moved by a concurrent run is
    read again and the attempt repeated (bounded, jittered)."""
    return with_retries(
        lambda clone, _attempt_no: _attempt(request, clone, planner, log),
        workdir=request.workdir,
        prefix="gitops-",
        clone_url=request.clone_url,
        token=request.token,
        identity=request.identity,
        environ=environ,
        attempts=attempts,
        delay=delay,
        sleep=sleep,
        retrying=lambda _n, wait: log(
            f"{request.branch} moved while deploying; retrying in {wait:.1f}s"
        ),
        gave_up=PublishError(
            f"{request.branch} kept moving; gave up after {attempts} attempts",
            hint="another deploy of this model runs at the same time: run this one again",
        ),
    )


def _show(clone: RepoClone, rev: str, path: str) -> str | None:
    done = clone.git("cat-file", "blob", f"{rev}:{path}", check=False)
    return done.stdout if done.returncode == 0 else None


def _attempt(
    request: GitOpsRequest, clone: RepoClone, planner: Planner, log: Callable[[str], None]
) -> GitOpsResult | None:
    fetched = clone.fetch_branches(
        request.branch,
        request.base_branch,
        what=f"the deploy repository {request.repo}",
        setting="github.deploy_repo",
    )
    base, base_sha, branch_sha = fetched.base, fetched.base_sha, fetched.branch_sha

    where = request.folder
    change = planner(_show(clone, base_sha, f"{where}/{RELEASE_FILE}"))
    desired = {name: Entry(FILE_MODE, blob_id(encode(text))) for name, text in change.files.items()}
    base_tree = clone.tree(base_sha, where)
    removed = tuple(sorted(base_tree.keys() - desired.keys()))
    written = tuple(sorted(n for n in desired if base_tree.get(n) != desired[n]))

    def result(status: Status, commit: str | None = None, **more: Any) -> GitOpsResult:
        return GitOpsResult(status, request.branch, base, where, written, removed, commit, **more)

    if base_tree == desired:
        log(f"{where}/ on {base} already holds these manifests: nothing to deploy")
        return result("unchanged")
    if branch_sha is not None and clone.tree(branch_sha, where) == desired and not request.dry_run:
        pull = request.forge.find_open(request.branch, base) if request.forge else None
        if pull is not None:
            log(f"{request.branch} already carries these manifests")
            return result("unchanged", branch_sha, pull_number=pull.number, pull_url=pull.url)

    commit = _commit(clone, base_sha, where, change.files, removed, change.message)
    if request.dry_run:
        diff = clone.diff(base_sha, commit, where)
        return result("planned", commit, diff=diff)
    if request.before_push is not None:
        request.before_push()
    pushed = clone.push(commit, request.branch, branch_sha)
    if pushed.state == "conflict":
        return None
    log(f"pushed {request.branch} at {commit[:12]}")
    assert request.forge is not None  # checked with the request: only a dry run has none
    upserted = request.forge.upsert(request.branch, base, title=change.title, body=change.body)
    return result(
        "opened" if upserted.created else "updated",
        commit,
        pull_number=upserted.pull.number,
        pull_url=upserted.pull.url,
    )


def _commit(
    clone: RepoClone,
    parent: str,
    where: str,
    files: Mapping[str, str],
    remove: tuple[str, ...],
    message: str,
) -> str:
    """A commit on ``parent`` whose ``where/`` holds exactly ``files`` (no checkout)."""
    lines = [f"0 {_NULL_OID}\t{where}/{name}" for name in remove]
    for name, text in sorted(files.items()):
        oid = clone.git("hash-object", "-w", "--no-filters", "--stdin", stdin=text).stdout.strip()
        if oid != blob_id(encode(text)):
            raise PublishError(f"git hashed {name} differently than planned")
        lines.append(f"{FILE_MODE} {oid}\t{where}/{name}")
    clone.git("read-tree", parent, index=True)
    clone.git("update-index", "--index-info", stdin="\n".join(lines) + "\n", index=True)
    tree = clone.git("write-tree", index=True).stdout.strip()
    return clone.git("commit-tree", tree, "-p", parent, "-F", "-", stdin=message).stdout.strip()
