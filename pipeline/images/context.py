"""The build context of one project: exactly the files its image may depend on.

The context is a tar (``git archive``) of the repository's files under the project folder, its
``depends_on`` paths and the platform's global paths, at their repository paths; the project's
Dockerfile reads its own folder through the ``PROJECT_DIR`` build argument. The same file list
feeds the ``src-`` tag, so equal tags mean equal contexts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline import proc


@dataclass(frozen=True)
class SourceFile:
    path: str  # repository-relative, POSIX
    mode: str  # git's mode: 100644, 100755, 120000
    blob: str  # git's object id of the content


def tracked_files(root: Path, rev: str = "HEAD") -> list[SourceFile]:
    """Every file of ``rev`` (``git ls-tree -r``), for selecting a project's sources."""
    out = proc.run("git", "ls-tree", "-r", "-z", "--full-tree", rev, cwd=root).stdout
    files = []
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, blob = meta.split(" ")
        if kind == "blob":
            files.append(SourceFile(path, mode, blob))
    return files


def select(
    files: Iterable[SourceFile], project_dir: str, matches: Iterable[str]
) -> list[SourceFile]:
    """The files under ``project_dir`` plus those whose path is in ``matches``."""
    prefix = f"{project_dir.rstrip('/')}/" if project_dir else ""
    extra = set(matches)
    return sorted(
        (f for f in files if f.path.startswith(prefix) or f.path in extra), key=lambda f: f.path
    )


def source_hash(files: Iterable[SourceFile]) -> str:
    """sha256 over (mode, blob, path) of every file: the identity of a build's sources."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.mode} {f.blob}\t{f.path}\n".encode())
    return digest.hexdigest()


def tarball(root: Path, rev: str, files: Iterable[SourceFile]) -> bytes:
    """A tar of exactly the hashed content: ``git archive`` of ``files`` at ``rev``."""
    paths = [f.path for f in files]
    return proc.output_bytes("git", "archive", "--format=tar", rev, "--", *paths, cwd=root)
