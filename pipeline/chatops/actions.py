"""The actions of the accepted comment commands: ``/deploy`` and ``/rollback`` through
:mod:`pipeline.online.kube_deploy`, ``/build`` and ``/dag`` on the PR head's tree (:mod:`.tree`)
through the image step and the DAG publishing the edge hands in (:class:`BuildImages`,
:class:`PublishDags`), so this package never imports the CLI.

The features are imported when an action runs (``/deploy`` pulls in Kubernetes rendering,
``/build`` Docker), so handling an ignored or refused comment stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.chatops.dispatch import Action, ActionContext, ActionResult
from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.chatops.parse import Command
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.kube_adapters import KubeAdapters

NOT_IN_ACTIONS = (
    "runs the PR's code, which the issue_comment workflow never does (it holds the "
    "repository's secrets): push to the PR to rebuild through its pull_request workflow, or "
    "send the command to the platform's webhook receiver (`somlier api`)"
)


@dataclass(frozen=True)
class ImagesBuilt:
    """What the image step did for a ``/build``: its ``--json`` object and whether it passed."""

    ok: bool
    report: dict[str, Any] = field(default_factory=dict)


class BuildImages(Protocol):
    """The image step on the PR head's tree (``pr`` tags, one status per project)."""

    def __call__(
        self,
        tree: Path,
        *,
        base: str | None,
        head: str,
        projects: tuple[str, ...],
        pr: int,
        repo: str,
        settings: PlatformSettings,
        environ: Mapping[str, str],
    ) -> ImagesBuilt: ...


class PublishedDags(Protocol):
    """One project's DAG pull request in the dags repository."""

    def summary(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


class PublishDags(Protocol):
    """The DAGs of the projects in ``folders`` at ``sha``, one PR per project."""

    def __call__(
        self,
        root: Path,
        sha: str,
        folders: tuple[str, ...],
        *,
        settings: PlatformSettings,
        environ: Mapping[str, str],
    ) -> Sequence[PublishedDags]: ...


def _described(result: Any) -> tuple[str, dict[str, Any]]:
    lines = result.lines() if hasattr(result, "lines") else [str(result)]
    details = result.to_json() if hasattr(result, "to_json") else {}
    return "\n".join(f"- {line}" for line in lines), details


def _kube(name: str) -> Any:
    try:  # written alongside; absent from an older install
        return importlib.import_module("pipeline.online.kube_deploy")
    except ImportError:
        raise UserError(f"/{name}: Kubernetes deployment is not installed on this runner") from None


def _built_lines(report: Mapping[str, Any]) -> list[str]:
    lines = [
        f"- {i['project']}: `{i['image']}:{i['tags'][0]}`"
        + (" (cache hit)" if i.get("cache_hit") else "")
        for i in report.get("images") or []
    ]
    failed = report.get("failed") or []
    return lines + [f"- {name}: the build failed (see the job log)" for name in failed]


@dataclass(frozen=True)
class ChatActions:
    """The four actions, bound to the checkout (``root``: the default branch's, or None),
    the platform settings, the environment mapping and the two features the edge hands in."""

    root: Path | None
    settings: PlatformSettings
    environ: Mapping[str, str]
    build_images: BuildImages
    publish_dags: PublishDags
    kube_adapters: Callable[[], KubeAdapters]  # the deploy's registry, builder, repository

    def table(self) -> dict[str, Action]:
        return {
            "deploy": self.deploy,
            "rollback": self.rollback,
            "build": self.build,
            "dag": self.dag,
        }

    def deploy(self, command: Command, ctx: ActionContext) -> ActionResult:
        from pipeline.online.request import DeployRequest

        request = DeployRequest(
            model_name=str(command.model),
            model_version=str(command.version),
            use_k8s=True,
            istio=command.istio,
            gpu=command.gpu,
            env="prod" if command.env == "prod" else "dev",
        )
        done = _kube("deploy").deploy_on_k8s(
            request,
            settings=self.settings,
            dry_run=False,
            echo=ctx.log,
            environ=self.environ,
            adapters=self.kube_adapters(),
            before_push=ctx.recheck,  # a prod approval withdrawn meanwhile stops the push
        )
        return ActionResult(True, *_described(done))

    def rollback(self, command: Command, ctx: ActionContext) -> ActionResult:
        done = _kube("rollback").rollback_on_k8s(
            str(command.model),
            env=command.env,
            settings=self.settings,
            dry_run=False,
            echo=ctx.log,
            environ=self.environ,
            adapters=self.kube_adapters(),
        )
        return ActionResult(True, *_described(done))

    def build(self, command: Command, ctx: ActionContext) -> ActionResult:
        from pipeline.chatops.pr_worktree import default_base, pr_tree, project_folders

        with pr_tree(self.root, ctx.head_sha, "build") as tree:
            built = self.build_images(
                tree,
                base=None if command.projects else default_base(tree, self.settings),
                head=ctx.head_sha,
                projects=project_folders(tree, command.projects, self.environ),
                pr=ctx.number,
                repo=ctx.repo,
                settings=self.settings,
                environ=self.environ,
            )
        summary = "\n".join(_built_lines(built.report)) or "nothing to build"
        return ActionResult(built.ok, summary, built.report)

    def dag(self, command: Command, ctx: ActionContext) -> ActionResult:
        from pipeline.chatops.pr_worktree import changed_folders, pr_tree, project_folders

        with pr_tree(self.root, ctx.head_sha, "dag") as tree:
            results = self.publish_dags(
                tree,
                ctx.head_sha,
                project_folders(tree, command.projects, self.environ)
                or changed_folders(tree, self.settings, ctx.head_sha, self.environ),
                settings=self.settings,
                environ=self.environ,
            )
        lines = [f"- {r.summary()}" for r in results] or ["- no project of this PR has DAGs"]
        return ActionResult(True, "\n".join(lines), {"dags": [r.to_json() for r in results]})


def action_table(
    root: Path | None,
    settings: PlatformSettings,
    environ: Mapping[str, str],
    *,
    build_images: BuildImages,
    publish_dags: PublishDags,
    kube_adapters: Callable[[], KubeAdapters],
) -> dict[str, Action]:
    """``/deploy``, ``/rollback``, ``/build`` and ``/dag``, bound to settings and environment."""
    return ChatActions(root, settings, environ, build_images, publish_dags, kube_adapters).table()


def _not_in_actions(command: Command, ctx: ActionContext) -> ActionResult:
    return ActionResult(False, f"`/{command.name}` {NOT_IN_ACTIONS}", {"refused": "github-actions"})


def for_github_actions(actions: Mapping[str, Action]) -> dict[str, Action]:
    """The table of an ``issue_comment`` job: such jobs hold the repository's secrets for
    comments on any PR, forks included, so they never check out or run a PR's code, and
    ``/build`` and ``/dag`` would: those two are refused."""
    return {**actions, "build": _not_in_actions, "dag": _not_in_actions}
