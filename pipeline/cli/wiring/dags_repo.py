"""Publishing rendered DAGs from the CLI (``offline create/render --open-pr``, the push step of
``pipeline event`` and ``/dag``): reads the token, the dags repository and the source commit at
the edge into a :class:`pipeline.gitops.projects.DagsTarget`, and prints what
:mod:`pipeline.gitops.projects` returns."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.errors import UserError
from pipeline.forge.repo_names import is_repo

if TYPE_CHECKING:
    from pipeline.config.model import ProjectConfig
    from pipeline.config.settings import PlatformSettings
    from pipeline.gitops import PublishResult
    from pipeline.gitops.projects import Connect, DagsTarget
    from pipeline.images.outcome import Outcome


def log(line: str) -> None:
    """Progress and failures of publishing: stderr."""
    click.echo(line, err=True)


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


def target(
    root: Path, settings: PlatformSettings, environ: Mapping[str, str], *, dry_run: bool
) -> DagsTarget:
    """Where DAGs are published from the checkout at ``root``: ``github.dags_repo``, with a
    GitHub client when there is a token (a dry run may go without one)."""
    from pipeline.cli.wiring import clone_url, forge_for, github_token
    from pipeline.gitops.projects import DagsTarget

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
    return DagsTarget(dags_repo, clone, forge, token, root, source_repo, head)


def connector(root: Path, settings: PlatformSettings, environ: Mapping[str, str]) -> Connect:
    """:func:`target` for a real publish, built only when called."""
    return lambda: target(root, settings, environ, dry_run=False)


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
    from pipeline.gitops.projects import publish_groups

    where = target(root, settings, environ, dry_run=dry_run)
    published = publish_groups(
        groups, where, prune=prune, dry_run=dry_run, environ=environ, log=log, commit=commit
    )
    return list(published.checked())


def publish_merged(
    root: Path,
    sha: str,
    configs: Sequence[tuple[str, ProjectConfig]],
    outcomes: Sequence[Outcome],
    deleted: Sequence[str],
    settings: PlatformSettings,
    environ: Mapping[str, str],
) -> list[dict[str, Any]]:
    """After a merge: :func:`pipeline.gitops.projects.publish_merged`, its PRs on stderr."""
    from pipeline.gitops import projects

    published = projects.publish_merged(
        [config for _folder, config in configs],
        sha=sha,
        built={o.project for o in outcomes if o.ok},
        deleted=deleted,
        settings=settings,
        connect=connector(root, settings, environ),
        environ=environ,
        log=log,
    )
    for item in published.checked():
        click.echo(item.summary(), err=True)
    return [item.to_json() for item in published.results]
