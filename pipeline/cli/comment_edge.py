"""PR comment commands at the edge: the GitHub client, the action table and the webhook receiver
are built here from settings and the environment, and handed to :mod:`pipeline.chatops`.

The actions import their features lazily (``/deploy`` pulls in Kubernetes rendering, ``/build``
Docker), so handling an ignored or refused comment stays cheap.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.wiring import adapters_for, forge_for
from pipeline.errors import EXIT_OK, EXIT_STEP_FAILED, UserError

if TYPE_CHECKING:
    from pipeline.chatops.dispatch import Action, ActionContext, ActionResult
    from pipeline.chatops.handle import Report
    from pipeline.chatops.parse import Command
    from pipeline.config.settings import PlatformSettings
    from pipeline.server.webhooks import WebhookReceiver


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


def _result(ok: bool, summary: str, details: dict[str, Any]) -> ActionResult:
    from pipeline.chatops.dispatch import ActionResult

    return ActionResult(ok, summary, details)


def _described(result: Any) -> tuple[str, dict[str, Any]]:
    lines = result.lines() if hasattr(result, "lines") else [str(result)]
    details = result.to_json() if hasattr(result, "to_json") else {}
    return "\n".join(f"- {line}" for line in lines), details


def _kube(name: str) -> Any:
    import importlib

    try:  # written alongside; absent from an older install
        return importlib.import_module("pipeline.online.kube_deploy")
    except ImportError:
        raise UserError(f"/{name}: Kubernetes deployment is not installed on this runner") from None


def action_table(
    root: Path | None, settings: PlatformSettings, environ: Mapping[str, str]
) -> dict[str, Action]:
    """``/deploy``, ``/rollback``, ``/build`` and ``/dag``, bound to settings and environment."""

    def deploy(command: Command, ctx: ActionContext) -> ActionResult:
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
            settings=settings,
            dry_run=False,
            echo=ctx.log,
            environ=environ,
            adapters=adapters_for(settings, environ, dry_run=False),
            before_push=ctx.recheck,  # a prod approval withdrawn meanwhile stops the push
        )
        return _result(True, *_described(done))

    def rollback(command: Command, ctx: ActionContext) -> ActionResult:
        done = _kube("rollback").rollback_on_k8s(
            str(command.model),
            env=command.env,
            settings=settings,
            dry_run=False,
            echo=ctx.log,
            environ=environ,
            adapters=adapters_for(settings, environ, dry_run=False),
        )
        return _result(True, *_described(done))

    def build(command: Command, ctx: ActionContext) -> ActionResult:
        from pipeline.chatops.tree import default_base, pr_tree, project_folders
        from pipeline.cli.images_cmd import _run

        captured = io.StringIO()
        with pr_tree(root, ctx.head_sha, "build") as tree, contextlib.redirect_stdout(captured):
            code = _run(  # prints its --json object, captured for the reply
                tree,
                base=None if command.projects else default_base(tree, settings),
                head=ctx.head_sha,
                projects=project_folders(tree, command.projects, environ),
                trigger="pr",
                pr=ctx.number,
                dry_run=False,
                as_json=True,
                repo=ctx.repo,
                link=None,
                environ=environ,
                settings=settings,
            )
        report = json.loads(captured.getvalue())
        lines = [
            f"- {i['project']}: `{i['image']}:{i['tags'][0]}`"
            + (" (cache hit)" if i.get("cache_hit") else "")
            for i in report.get("images") or []
        ]
        failed = report.get("failed") or []
        lines += [f"- {name}: the build failed (see the job log)" for name in failed]
        return _result(code == EXIT_OK, "\n".join(lines) or "nothing to build", report)

    def dag(command: Command, ctx: ActionContext) -> ActionResult:
        from pipeline.chatops.tree import changed_folders, pr_tree, project_folders

        with pr_tree(root, ctx.head_sha, "dag") as tree:
            results = publish_pr_dags(
                tree,
                ctx.head_sha,
                project_folders(tree, command.projects, environ)
                or changed_folders(tree, settings, ctx.head_sha, environ),
                settings=settings,
                environ=environ,
            )
        lines = [f"- {r.summary()}" for r in results] or ["- no project of this PR has DAGs"]
        return _result(True, "\n".join(lines), {"dags": [r.to_json() for r in results]})

    return {"deploy": deploy, "rollback": rollback, "build": build, "dag": dag}


def publish_pr_dags(
    root: Path,
    sha: str,
    folders: tuple[str, ...],
    *,
    settings: PlatformSettings,
    environ: Mapping[str, str],
) -> list[Any]:
    """The DAGs of the projects in ``folders`` at the PR head, on its image (``sha-<short>``,
    as the PR build tags it), in one PR per project in the dags repository."""
    import tempfile

    from pipeline.cli.publish_edge import publish
    from pipeline.offline import plan as dags
    from pipeline.steps import flow

    configs = flow.load_changed(root, [flow.Changed(f, f) for f in folders], environ)
    groups: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="somlier-dags-") as scratch:
        for _folder, config in configs:
            if not config.offline:
                continue
            made, errors = dags.plan_project(
                config,
                settings,
                Path(scratch),
                source_path=dags.header_path(config.path),
                image=dags.image_for(config, settings, f"sha-{sha[:7]}"),
            )
            if errors:
                raise UserError(
                    f"{config.name}: offline[{errors[0].index}]: {errors[0].error.message}"
                )
            groups[config.name] = {d.spec.dag_id: d.source for d in made}
    if not groups:
        return []
    return publish(
        groups, root=root, settings=settings, environ=environ, prune=True, dry_run=False, commit=sha
    )


NOT_IN_ACTIONS = (
    "runs the PR's code, which the issue_comment workflow never does (it holds the "
    "repository's secrets): push to the PR to rebuild through its pull_request workflow, or "
    "send the command to the platform's webhook receiver (`somlier api`)"
)


def _not_in_actions(command: Command, ctx: ActionContext) -> ActionResult:
    return _result(False, f"`/{command.name}` {NOT_IN_ACTIONS}", {"refused": "github-actions"})


def run_event(
    name: str,
    payload: dict[str, Any],
    *,
    root: Path | None,
    environ: Mapping[str, str],
    dry_run: bool,
    as_json: bool,
) -> int:
    """``somlier pipeline event`` for ``issue_comment``: exit 0 when every command ran (or the
    comment was ignored), 1 when one was refused, aborted or failed."""
    from pipeline.chatops.handle import handle
    from pipeline.config.settings import load_settings

    settings = load_settings(root, environ)
    actions = action_table(root, settings, environ)
    if environ.get("GITHUB_ACTIONS") == "true":
        # issue_comment jobs hold the repository's secrets for comments on any PR, forks
        # included: they never check out or run a PR's code, and /build and /dag would.
        actions.update(build=_not_in_actions, dag=_not_in_actions)
    report = handle(
        name,
        payload,
        forge_for=forge_for(settings, environ),
        actions=actions,
        dry_run=dry_run,
        log=lambda line: click.echo(line, err=True),
        provenance=provenance_for(root, settings, environ),
    )
    _print(report, as_json=as_json or dry_run)
    return EXIT_OK if report.ok else EXIT_STEP_FAILED


def _print(report: Report, *, as_json: bool) -> None:
    data = report.to_json()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if data["ignored"]:
        click.echo(f"ignored: {data['reason']}")
        return
    for item in data["commands"]:
        state = item.get("state") or item["decision"]
        why = item.get("reason") or item.get("message", "")
        click.echo(f"{item['text']}: {state}" + (f": {why.splitlines()[0]}" if why else ""))


def webhook_receiver(
    root: Path | None,
    settings: PlatformSettings,
    environ: Mapping[str, str],
    database: Path,
) -> WebhookReceiver:
    """The receiver of ``POST /webhooks/github``, for
    ``create_app(state={"github_webhooks": receiver})``: the secret from the variable that
    ``github.webhook_secret_env`` names, deliveries in ``webhooks.sqlite3`` next to the API
    database (``database``), comments handled as in GitHub Actions; only deliveries about
    ``github.projects_repo`` are acted on."""
    from pipeline.chatops.decide import Ignored, classify
    from pipeline.chatops.handle import handle
    from pipeline.secret import secret
    from pipeline.server.webhooks import DeliveryStore, WebhookReceiver

    forges = forge_for(settings, environ)
    actions = action_table(root, settings, environ)
    provenance = provenance_for(root, settings, environ)

    def log(line: str) -> None:
        click.echo(f"webhook: {line}", err=True)

    def handler(event: str, payload: dict[str, Any]) -> Report:
        return handle(
            event,
            payload,
            forge_for=forges,
            actions=actions,
            dry_run=False,
            log=log,
            provenance=provenance,
        )

    def ignored(event: str, payload: dict[str, Any]) -> str | None:
        found = classify(event, payload)
        return found.reason if isinstance(found, Ignored) else None

    return WebhookReceiver(
        secret(settings.github.webhook_secret_env, environ),
        DeliveryStore(database.parent / "webhooks.sqlite3"),
        handler,
        classify=ignored,
        repository=settings.github.projects_repo,
    )
