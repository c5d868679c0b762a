"""Publishing the DAGs of several projects: one PR per project in the dags repository.

The three ways DAGs get published all come through here: ``offline create/render --open-pr``
(:func:`publish_groups`), a merge to the default branch (:func:`publish_merged`) and a ``/dag``
PR comment (:func:`publish_pr_dags`). The DAGs are planned by
:func:`pipeline.offline.plan.plan_dags`; where they go (the repository, its GitHub client, the
token, the source commit) is a :class:`DagsTarget` built at the edge, only once there is
something to publish.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import SomlierError, StepFailed, UserError
from pipeline.gitops.publication import PublishRequest, PublishResult, PullForge
from pipeline.gitops.publisher import publish_dags

if TYPE_CHECKING:
    from pipeline.config.model import ProjectConfig
    from pipeline.config.settings import PlatformSettings
    from pipeline.secret import Secret

Log = Callable[[str], None]
Groups = Mapping[str, Mapping[str, str]]  # project -> its full set of DAG files {dag_id: source}


@dataclass(frozen=True)
class DagsTarget:
    """Where DAG files go and where they come from: the dags repository (``owner/name``, its
    clone URL, a GitHub client for its PRs and the token, both None for a dry run without a
    token) and the monorepo checkout they were rendered from (its ``owner/name`` and HEAD)."""

    repo: str
    clone_url: str
    forge: PullForge | None
    token: Secret | None
    source_root: Path
    source_repo: str
    source_head: str


Connect = Callable[[], DagsTarget]


@dataclass(frozen=True)
class Published:
    """One :class:`PublishResult` per project published; ``failed``: the projects whose
    publishing failed (reported through the log; the others went on)."""

    results: tuple[PublishResult, ...] = ()
    failed: tuple[str, ...] = ()

    def to_json(self) -> list[dict[str, object]]:
        return [result.to_json() for result in self.results]

    def checked(self) -> tuple[PublishResult, ...]:
        """The results, or :class:`StepFailed` naming the projects that failed."""
        if self.failed:
            raise StepFailed(
                f"publishing failed for {', '.join(self.failed)}",
                hint="the other projects' PRs are up to date; run again",
            )
        return self.results


def publish_groups(
    groups: Groups,
    target: DagsTarget,
    *,
    prune: bool,
    dry_run: bool,
    environ: Mapping[str, str],
    log: Log,
    commit: str | None = None,
) -> Published:
    """Open or update one PR per project of ``groups`` in ``target.repo``, naming ``commit``
    (default: the checkout's HEAD) as the source. A failed project does not stop the others."""
    results: list[PublishResult] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="somlier-publish-") as scratch:
        for project, files in sorted(groups.items()):
            request = PublishRequest(
                clone_url=target.clone_url,
                repo=target.repo,
                project=project,
                source_repo=target.source_repo,
                source_commit=commit or target.source_head,
                files=dict(files),
                workdir=Path(scratch) / project,
                forge=target.forge,
                token=target.token,
                source_root=target.source_root,
                prune=prune,
                dry_run=dry_run,
            )
            try:
                result = publish_dags(request, log=log, environ=environ)
            except SomlierError as exc:
                log(f"{project}: publishing failed: {exc.message}")
                failed.append(project)
                continue
            results.append(result)
    return Published(tuple(results), tuple(failed))


def merged_groups(
    configs: Iterable[ProjectConfig],
    *,
    sha: str,
    built: Collection[str],
    deleted: Sequence[str],
    settings: PlatformSettings,
    log: Log,
) -> dict[str, dict[str, str]]:
    """What a merge publishes: the DAGs of the changed projects whose image was ``built``, on
    that image (:func:`~pipeline.offline.plan.commit_tag`); nothing for a deleted project or
    one without jobs (their DAGs go). A project whose image failed is left alone (no DAG may
    refer to an image that was not pushed), and so is one with a job in error (logged)."""
    from pipeline.offline import plan

    groups: dict[str, dict[str, str]] = {name: {} for name in deleted}
    configs = list(configs)
    wanted = [c for c in configs if c.offline and c.name in built]
    with tempfile.TemporaryDirectory(prefix="somlier-dags-") as scratch:
        planned = plan.plan_dags(
            wanted, settings, output_dir=Path(scratch), tag=plan.commit_tag(sha)
        )
    by_name = {project.name: project for project in planned.projects}
    for config in configs:
        if not config.offline:
            groups[config.name] = {}  # jobs removed: their DAGs go (usually: unchanged)
            continue
        project = by_name.get(config.name)
        if project is None:
            continue
        for error in project.errors:
            log(f"{config.name}: offline[{error.index}]: {error.error.message}")
        if not project.errors:
            groups[config.name] = project.files
    return groups


def publish_merged(
    configs: Sequence[ProjectConfig],
    *,
    sha: str,
    built: Collection[str],
    deleted: Sequence[str],
    settings: PlatformSettings,
    connect: Connect,
    environ: Mapping[str, str],
    log: Log,
) -> Published:
    """After a merge of ``sha``: :func:`merged_groups`, one PR per project (``connect`` is
    called only when there is something to publish)."""
    groups = merged_groups(
        configs, sha=sha, built=built, deleted=deleted, settings=settings, log=log
    )
    if not groups:
        return Published()
    return publish_groups(
        groups, connect(), prune=True, dry_run=False, environ=environ, log=log, commit=sha
    )


def publish_pr_dags(
    root: Path,
    sha: str,
    folders: tuple[str, ...],
    *,
    settings: PlatformSettings,
    environ: Mapping[str, str],
    connect: Connect,
    log: Log,
) -> Published:
    """The DAGs of the projects in ``folders`` at the PR head checked out at ``root``, on its
    image (``sha-<short>``, as the PR build tags it), in one PR per project. A job in error
    stops it before anything is published (:class:`UserError`)."""
    from pipeline.offline import plan
    from pipeline.steps import flow

    configs = flow.load_changed(root, [flow.Changed(f, f) for f in folders], environ)
    groups: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="somlier-dags-") as scratch:
        for _folder, config in configs:
            if not config.offline:
                continue
            # One project at a time: the first project in error stops the rest, as it always did.
            (project,) = plan.plan_dags(
                [config], settings, output_dir=Path(scratch), tag=plan.commit_tag(sha)
            ).projects
            if project.errors:
                first = project.errors[0]
                raise UserError(f"{config.name}: offline[{first.index}]: {first.error.message}")
            groups[config.name] = project.files
    if not groups:
        return Published()
    return publish_groups(
        groups, connect(), prune=True, dry_run=False, environ=environ, log=log, commit=sha
    )
