"""``somlier pipeline build`` and ``somlier pipeline event``: the image step from the CLI and
from GitHub Actions. This module is the edge: it reads the environment (``GITHUB_*``, tokens,
``DOCKER_HOST``) once and hands plain settings to the step."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli import wiring
from pipeline.cli.options import json_option, repo_option
from pipeline.errors import EXIT_OK, EXIT_STEP_FAILED, UserError

if TYPE_CHECKING:  # the runtime imports are deferred to keep --help fast
    from pipeline.config.settings import PlatformSettings


def _log(project: str, line: str) -> None:
    click.echo(f"[{project}] {line}", err=True)


def _root(repo: Path | None) -> Path:
    from pipeline.monorepo.discovery import repo_root

    start = repo or Path.cwd()
    root = repo_root(start)
    if root is None:
        raise UserError(f"{start} is not inside a git repository")
    return root


def _run(
    root: Path,
    *,
    base: str | None,
    head: str,
    projects: Sequence[str],
    trigger: str,
    pr: int | None,
    dry_run: bool,
    as_json: bool,
    repo: str | None,
    link: str | None,
    environ: Mapping[str, str],
    settings: PlatformSettings | None = None,
    publish_dags: bool = True,
) -> int:
    """``settings``: given by /build (read from the default branch's checkout, never from the
    PR's tree at ``root``, so a PR cannot redirect pushes and credentials). ``publish_dags``: on
    a main build with ``github.dags_repo`` set, also publish the changed projects' DAGs."""
    import tempfile

    from pipeline import proc
    from pipeline.build import packages
    from pipeline.build.refs import BuildContext
    from pipeline.config.settings import load_settings
    from pipeline.steps import flow, images
    from pipeline.steps.images import ImageStep

    settings = settings or load_settings(root, environ)
    sha = proc.run("git", "rev-parse", "--verify", f"{head}^{{commit}}", cwd=root).stdout.strip()
    deleted: list[str] = []
    if projects:
        changed = [flow.Changed(p.strip("/"), p) for p in projects]
    else:
        if base is None:
            raise UserError("say what to build: --base REF (changed projects) or --project DIR")
        from pipeline.monorepo.detect import detect

        found = detect(root, base, sha, environ)
        changed = [flow.Changed(p.path, p.name) for p in found.projects]
        deleted = [d.name for d in found.deleted]
    context = BuildContext(trigger, sha, pr)  # type: ignore[arg-type]
    configs = flow.load_changed(root, changed, environ)
    planned = images.plan(root, sha, configs, settings, context)
    registry = wiring.registry_for(settings, environ)
    if dry_run:
        click.echo(
            json.dumps(
                flow.plan_json(
                    planned, deleted=deleted, context=context, push=registry is not None
                ),
                indent=2,
            )
        )
        return EXIT_OK
    cloud = settings.builder.type == "cloudbuild"
    if cloud and registry is None:
        raise UserError(
            "builder.type cloudbuild pushes every image: registry.url is not set",
            hint="set registry.url (Artifact Registry or GCR) in .somlier/platform.yaml",
        )
    buildkit = (
        wiring.buildkit_for(settings.builder.buildkit, environ) if planned and not cloud else None
    )
    factory = wiring.builder_factory(settings, environ, registry=registry, buildkit=buildkit)
    if planned:
        # Credentials a builder must not be given are refused before anything is built.
        packages.index_secret(
            settings.packages, environ, cloud=settings.builder.type == "cloudbuild"
        )
        # Fail early and plainly (no engine, no credentials, settings missing); the first
        # worker then builds with this builder instead of connecting again.
        factory = _first_then(factory(), factory)
    scratch = tempfile.TemporaryDirectory(prefix="somlier-build-")
    step = ImageStep(
        root,
        sha,
        settings,
        context,
        factory,
        registry,
        _log,
        source_url=f"https://github.com/{repo}" if repo else "",
        packages=partial(
            packages.inputs,
            settings.packages,
            environ,
            cloud=settings.builder.type == "cloudbuild",
            scratch=Path(scratch.name),
            log=lambda line: click.echo(line, err=True),
        ),
    )
    reports = wiring.reports_for(
        settings, environ, repo or settings.github.projects_repo, to_github=trigger != "manual"
    )
    from pipeline.cli.progress import progress_for

    count = len(planned)
    title = f"{count} image{'s' if count != 1 else ''}: build and push"
    with scratch, progress_for(as_json or dry_run or not count).step(title):
        result = flow.execute(
            step,
            planned,
            context=context,
            repo=repo or settings.github.projects_repo or root.name,
            link=link,
            reports=reports,
            deleted=deleted,
        )
    dags: list[dict[str, Any]] = []
    if publish_dags and trigger == "main" and settings.github.dags_repo and (configs or deleted):
        from pipeline.cli.publish_edge import publish_merged

        dags = publish_merged(root, sha, configs, result.outcomes, deleted, settings, environ)
    if as_json:
        from pipeline.steps import report

        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "api_calls": result.api_calls,
                    "images": json.loads(report.outputs(result.outcomes)["images"]),
                    "failed": [o.project for o in result.outcomes if not o.ok],
                    "deleted": list(result.deleted),
                    "dags": dags,
                },
                indent=2,
            )
        )
    else:
        for o in result.outcomes:
            state = ("cache hit" if o.cache_hit else "built") if o.ok else f"FAILED: {o.error}"
            click.echo(f"{o.project}: {o.image}:{o.tags[0]} {state}")
        if not result.outcomes:
            click.echo("nothing changed: nothing to build")
    return EXIT_OK if result.ok else EXIT_STEP_FAILED


REPO_OPTION = repo_option


@click.command()
@click.option(
    "--base", metavar="REF", help="Build the projects changed since the merge base with REF."
)
@click.option(
    "--head", default="HEAD", show_default=True, metavar="REF", help="The revision to build."
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    metavar="DIR",
    help="Build this project folder (repeatable) instead of the changed ones.",
)
@click.option(
    "--pr", type=click.IntRange(min=1), help="The pull request: adds pr-N, reports to it."
)
@click.option("--main", "on_main", is_flag=True, help="A release build: adds latest.")
@click.option(
    "--no-dags",
    is_flag=True,
    help="With --main: do not publish the DAGs, even with github.dags_repo set (a later step "
    "does, with a token for that repository).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan as JSON; build, push, post nothing.")
@json_option
@REPO_OPTION
def build(
    base: str | None,
    head: str,
    projects: tuple[str, ...],
    pr: int | None,
    on_main: bool,
    no_dags: bool,
    dry_run: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Build and push the images of changed (or named) projects.

    Tags: src-<source hash> always (an image with the same sources is reused: tagged
    registry-side, not rebuilt), sha-<short>, pr-N with --pr, latest and project.docker.tags
    with --main. Without registry.url the images stay in the local engine. With --main and
    github.dags_repo set, the DAGs of the changed projects whose images were pushed are published
    too (unless --no-dags). Exit 1 when a project fails to build (the others still build), 2 on
    wrong input.
    """
    if pr is not None and on_main:
        raise click.UsageError("--pr and --main: pick one")
    if no_dags and not on_main:
        raise click.UsageError("--no-dags goes with --main (only a main build publishes DAGs)")
    trigger = "pr" if pr is not None else ("main" if on_main else "manual")
    environ = os.environ
    return _run(
        _root(repo),
        base=base,
        head=head,
        projects=projects,
        trigger=trigger,
        pr=pr,
        dry_run=dry_run,
        as_json=as_json,
        repo=environ.get("GITHUB_REPOSITORY"),
        link=None,
        environ=environ,
        publish_dags=not no_dags,
    )


@click.command()
@click.option(
    "--name",
    envvar="GITHUB_EVENT_NAME",
    metavar="EVENT",
    help="The event name [default: $GITHUB_EVENT_NAME].",
)
@click.option(
    "--path",
    "event_path",
    envvar="GITHUB_EVENT_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The event payload [default: $GITHUB_EVENT_PATH].",
)
@click.option("--include-drafts", is_flag=True, help="Build draft pull requests too.")
@click.option("--dry-run", is_flag=True, help="Print the plan as JSON; build, push, post nothing.")
@json_option
@REPO_OPTION
def event(
    name: str | None,
    event_path: Path | None,
    include_drafts: bool,
    dry_run: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Run the image step a GitHub event asks for.

    pull_request (opened, synchronize, reopened, ready_for_review): build the changed projects
    with pr-N tags, set a commit status per project, update one PR comment, post to Slack.
    push to the default branch: build or retag with latest. issue_comment (created, on a PR):
    the comment commands /deploy, /build, /dag, /rollback, /help (docs/commands.md); exit 1
    when one is refused or fails. Anything else is ignored with a one-line reason (exit 0).
    """
    from pipeline.steps.event import Ignored, decide, load_payload
    from pipeline.steps.flow import context_for

    if not name or event_path is None:
        raise UserError(
            "no event: set GITHUB_EVENT_NAME and GITHUB_EVENT_PATH, or pass --name and --path"
        )
    if name == "issue_comment":
        from pipeline.cli.comment_edge import comment_root, run_event

        return run_event(
            name,
            load_payload(event_path),
            root=comment_root(repo),
            environ=os.environ,
            dry_run=dry_run,
            as_json=as_json,
        )
    decision = decide(name, load_payload(event_path), include_drafts=include_drafts)
    if isinstance(decision, Ignored):
        if as_json or dry_run:
            click.echo(json.dumps({"ignored": True, "reason": decision.reason}))
        else:
            click.echo(f"ignored: {decision.reason}")
        return EXIT_OK
    context, base, head = context_for(decision)
    return _run(
        _root(repo),
        base=base,
        head=head,
        projects=(),
        trigger=context.trigger,
        pr=context.pr_number,
        dry_run=dry_run,
        as_json=as_json,
        repo=decision.repo,
        link=decision.html_url or None,
        environ=os.environ,
    )


def _first_then(first: Any, factory: Callable[[], Any]) -> Callable[[], Any]:
    """A factory that returns ``first`` once (to one thread), then new builders."""
    spare = [first]

    def make() -> Any:
        try:
            return spare.pop()  # atomic: only one worker gets it
        except IndexError:
            return factory()

    return make
