"""PR comment commands at the edge: the GitHub clients and the action table of
:mod:`pipeline.chatops.actions` (with the image step and the DAG publishing it runs) are wired
here from settings and the environment, for ``somlier pipeline event`` (which prints what
:mod:`pipeline.chatops.handle` reports) and the webhook receiver of ``somlier api``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli.wiring import adapters_for, forge_for
from pipeline.errors import EXIT_OK

if TYPE_CHECKING:
    from pipeline.chatops.actions import ImagesBuilt
    from pipeline.chatops.dispatch import Action
    from pipeline.chatops.handle import CommentHandler
    from pipeline.config.settings import PlatformSettings


def comment_root(repo: Path | None) -> Path | None:
    """The monorepo checkout around ``repo`` (or the current folder), found without starting
    git: a refused comment runs no process at all. /deploy needs none, /build and /dag do."""
    from pipeline.config.location import checkout_root

    return checkout_root((repo or Path.cwd()).resolve())


def provenance_for(
    root: Path | None, settings: PlatformSettings, environ: Mapping[str, str]
) -> Callable[[str, str], tuple[str, ...]]:
    """Where a model version came from: the commits of its MLflow run (in the registry that
    ``online register`` writes to), for the prod approval check."""

    def read(model: str, version: str) -> tuple[str, ...]:
        from pipeline.online import tracking
        from pipeline.online.model_ref import source_commits

        where = tracking.resolve(
            root=root or Path.cwd(),
            settings_uri=settings.mlflow.tracking_uri,
            env_uri=environ.get("MLFLOW_TRACKING_URI"),
        )
        return source_commits(model, version, tracking_uri=where.uri)

    return read


def build_images(
    tree: Path,
    *,
    base: str | None,
    head: str,
    projects: tuple[str, ...],
    pr: int,
    repo: str,
    settings: PlatformSettings,
    environ: Mapping[str, str],
) -> ImagesBuilt:
    """``/build``: the image step on the PR head's tree, with the settings of the default
    branch (never the PR's), reported on the PR."""
    from pipeline.chatops.actions import ImagesBuilt
    from pipeline.cli.wiring.step_adapters import step_adapters
    from pipeline.config.pins import pinned
    from pipeline.steps.image_step import run_image_step

    with pinned(tree, settings):  # the PR's tree holds the PR's edit of the settings file
        result = run_image_step(
            tree,
            head=head,
            base=base,
            projects=projects,
            trigger="pr",
            pr=pr,
            repo=repo,
            link=None,
            dry_run=False,
            jobs=None,
            environ=environ,
            adapters=step_adapters(settings, environ, repo=repo, to_github=True, quiet=True),
        )
    return ImagesBuilt(result.exit_code == EXIT_OK, result.to_json())


def action_table(
    root: Path | None, settings: PlatformSettings, environ: Mapping[str, str]
) -> dict[str, Action]:
    """``/deploy``, ``/rollback``, ``/build`` and ``/dag``, bound to settings and environment."""
    from pipeline.chatops import actions

    return actions.action_table(
        root,
        settings,
        environ,
        build_images=build_images,
        publish_dags=publish_pr_dags,
        kube_adapters=partial(adapters_for, settings, environ, dry_run=False),
    )


def publish_pr_dags(
    root: Path,
    sha: str,
    folders: tuple[str, ...],
    *,
    settings: PlatformSettings,
    environ: Mapping[str, str],
) -> tuple[Any, ...]:
    """The DAGs of the projects in ``folders`` at the PR head, on its image (``sha-<short>``,
    as the PR build tags it), in one PR per project in the dags repository: the feature
    (:func:`pipeline.gitops.projects.publish_pr_dags`) with the dags repository wired here."""
    from pipeline.cli.wiring.dags_repo import connector, log
    from pipeline.config.pins import pinned
    from pipeline.gitops.projects import publish_pr_dags as publish

    with pinned(root, settings):  # the PR's tree holds the PR's edit of the settings file
        published = publish(
            root,
            sha,
            folders,
            settings=settings,
            environ=environ,
            connect=connector(root, settings, environ),
            log=log,
        )
    return published.checked()


def comment_handler(
    root: Path | None,
    settings: PlatformSettings,
    environ: Mapping[str, str],
    *,
    log: Callable[[str], None],
    actions: Mapping[str, Action] | None = None,
) -> CommentHandler:
    """:func:`pipeline.chatops.handle.handle` wired: GitHub clients, the action table (by
    default :func:`action_table`), the log and the provenance reader."""
    from pipeline.chatops.handle import CommentHandler

    return CommentHandler(
        forge_for(settings, environ),
        actions if actions is not None else action_table(root, settings, environ),
        log,
        provenance_for(root, settings, environ),
    )
