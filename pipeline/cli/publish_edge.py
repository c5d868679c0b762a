"""Publishing rendered DAGs from the CLI (``offline create/render --open-pr``, and the push
step of ``pipeline event``): reads the token, the dags repository and the source commit at the
edge and hands them to :func:`pipeline.publish.publish_dags`."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.errors import SomlierError, UserError
from pipeline.forge.names import is_repo

if TYPE_CHECKING:
    from pipeline.build.outcome import Outcome
    from pipeline.config.model import ProjectConfig
    from pipeline.config.settings import PlatformSettings
    from pipeline.publish import PublishResult


def source_of(
    root: Path, settings: PlatformSettings, environ: Mapping[str, str]
) -> tuple[str, str]:
    """(source repository owner/name, full commit id) of the monorepo checkout at ``root``."""
    from pipeline import proc

    commit = proc.run("git", "rev-parse", "--verify", "HEAD^{commit}", cwd=root).stdout.strip()
    repo = environ.get("GITHUB_REPOSITORY") or settings.github.projects_repo or ""
    if not is_repo(repo):
        repo = f"local/{re.sub(r'[^A-Za-z0-9_.-]', '-', root.name) or 'monorepo'}"
    return repo, commit


def publish(
    groups: Mapping[str, Mapping[str, str]],
    *,
    root: Path,
    settings: PlatformSettings,
    environ: Mapping[str, str],
    prune: bool,
    dry_run: bool,
    commit: str | None = None,
) -> list[PublishResult]:
    """Open or update one PR per project in ``github.dags_repo``; ``groups`` maps each project
    to its full set of DAG files ``{dag_id: source}``. A failed project does not stop the
    others; it is reported, and the caller exits 1."""
    from pipeline.cli.wiring import clone_url, forge_for, github_token
    from pipeline.publish import PublishRequest, publish_dags

    dags_repo = settings.github.dags_repo
    if not dags_repo:
        raise UserError(
            "no dags repository to publish to",
            hint="set github.dags_repo in .somlier/platform.yaml (or SOMLIER__GITHUB__DAGS_REPO)",
        )
    token = github_token(settings, environ)
    if token is None and not dry_run:
        raise UserError(
            f"no GitHub token in {settings.github.token_env}",
            hint="a token that may push to the dags repository and open PRs",
        )
    forges = forge_for(settings, environ)
    forge = forges(dags_repo).pulls() if forges is not None else None
    clone = clone_url(dags_repo, environ, "SOMLIER_DAGS_CLONE_URL")
    source_repo, head = source_of(root, settings, environ)
    results: list[PublishResult] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="somlier-publish-") as scratch:
        for project, files in sorted(groups.items()):
            request = PublishRequest(
                clone_url=clone,
                repo=dags_repo,
                project=project,
                source_repo=source_repo,
                source_commit=commit or head,
                files=dict(files),
                workdir=Path(scratch) / project,
                forge=forge,
                token=token,
                source_root=root,
                prune=prune,
                dry_run=dry_run,
            )
            try:
                result = publish_dags(
                    request, log=lambda line: click.echo(line, err=True), environ=environ
                )
            except SomlierError as exc:
                click.echo(f"{project}: publishing failed: {exc.message}", err=True)
                failed.append(project)
                continue
            results.append(result)
    if failed:
        from pipeline.errors import StepFailed

        raise StepFailed(
            f"publishing failed for {', '.join(failed)}",
            hint="the other projects' PRs are up to date; run again",
        )
    return results


def publish_merged(
    root: Path,
    sha: str,
    configs: Sequence[tuple[str, ProjectConfig]],
    outcomes: Sequence[Outcome],
    deleted: Sequence[str],
    settings: PlatformSettings,
    environ: Mapping[str, str],
) -> list[dict[str, Any]]:
    """After a merge: the DAGs of the changed projects, on the image just built
    (``sha-<short>``), in one PR per project in the dags repository; the DAGs of a deleted
    project, or of jobs removed from somlier.yaml, are removed. A project whose image failed
    publishes nothing (no DAG may refer to an image that was not pushed)."""
    import tempfile

    from pipeline.offline import plan as dags

    ok = {o.project for o in outcomes if o.ok}
    groups: dict[str, dict[str, str]] = {name: {} for name in deleted}
    with tempfile.TemporaryDirectory(prefix="somlier-dags-") as scratch:
        for _folder, config in configs:
            if not config.offline:
                groups[config.name] = {}  # jobs removed: their DAGs go (usually: unchanged)
                continue
            if config.name not in ok:
                continue
            made, errors = dags.plan_project(
                config,
                settings,
                Path(scratch),
                source_path=dags.header_path(config.path),
                image=dags.image_for(config, settings, f"sha-{sha[:7]}"),
            )
            for error in errors:
                click.echo(
                    f"{config.name}: offline[{error.index}]: {error.error.message}", err=True
                )
            if not errors:
                groups[config.name] = {d.spec.dag_id: d.source for d in made}
    if not groups:
        return []
    results = publish(
        groups, root=root, settings=settings, environ=environ, prune=True, dry_run=False, commit=sha
    )
    for item in results:
        click.echo(item.summary(), err=True)
    return [item.to_json() for item in results]
