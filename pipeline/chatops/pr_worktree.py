"""The PR's tree for /build and /dag: its head as a temporary worktree of the default branch's
checkout, and the projects to act on in it. The settings never come from that tree."""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError, UserError

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings

_SHA = re.compile(r"[0-9a-f]{40}")


@contextlib.contextmanager
def pr_tree(root: Path | None, sha: str, name: str) -> Iterator[Path]:
    """The PR head as a detached worktree of the checkout at ``root`` (the default branch's,
    as the comment workflow runs), fetched when missing, removed afterwards."""
    from pipeline import proc

    if root is None:
        raise UserError(
            f"/{name} needs a checkout of the monorepo", hint="run it in GitHub Actions"
        )
    if not _SHA.fullmatch(sha):  # it comes from the API; still, it reaches git's argv
        raise UserError(f"/{name}: {sha!r} is not a commit id")
    present = proc.run("git", "cat-file", "-e", f"{sha}^{{commit}}", cwd=root, check=False)
    if present.returncode != 0:
        proc.run("git", "fetch", "--quiet", "--no-tags", "origin", sha, cwd=root)
    with tempfile.TemporaryDirectory(prefix="somlier-pr-") as scratch:
        tree = Path(scratch) / "tree"
        proc.run("git", "worktree", "add", "--quiet", "--detach", str(tree), sha, cwd=root)
        try:
            yield tree
        finally:
            proc.run("git", "worktree", "remove", "--force", str(tree), cwd=root, check=False)


def default_base(root: Path, settings: PlatformSettings) -> str:
    """The default branch in the checkout, to compare the PR head with."""
    from pipeline import proc

    branch = settings.monorepo.default_branch
    for ref in (f"origin/{branch}", branch):
        found = proc.run("git", "rev-parse", "--verify", "-q", ref, cwd=root, check=False)
        if found.returncode == 0:
            return ref
    raise UserError(f"no {branch} branch in the checkout to compare the PR with")


def project_folders(
    root: Path, names: tuple[str, ...], environ: Mapping[str, str]
) -> tuple[str, ...]:
    """The folders of the projects called ``names`` (a /build or /dag names projects)."""
    if not names:
        return ()
    from pipeline.config.project import load_project
    from pipeline.monorepo.discovery import tracked_projects

    found: dict[str, str] = {}
    for marker in tracked_projects(root):
        try:
            config = load_project(marker, environ, str(marker.relative_to(root)))
        except ConfigError:
            continue  # another project's broken file is that project's problem
        found[config.name] = str(marker.parent.relative_to(root))
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(
            f"no project named {', '.join(missing)} in the monorepo at the PR head",
            hint="check the name, or run `somlier validate` on its somlier.yaml",
        )
    return tuple(found[n] for n in names)


def changed_folders(
    root: Path, settings: PlatformSettings, head: str, environ: Mapping[str, str]
) -> tuple[str, ...]:
    """The folders of the projects the PR head changes (``/build`` or ``/dag`` alone)."""
    from pipeline.monorepo.detect import detect

    return tuple(p.path for p in detect(root, default_base(root, settings), head, environ).projects)
