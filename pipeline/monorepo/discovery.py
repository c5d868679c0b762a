"""Finding somlier.yaml files: in a git work tree through ``git ls-files``, elsewhere by walking."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline import proc
from pipeline.errors import UserError
from pipeline.monorepo.changes import MARKER as FILENAME  # not config.project: it imports YAML

# Folders never searched when walking a plain folder (virtual environments, caches, VCS data).
_SKIP = {"node_modules", "__pycache__", "site-packages"}


def repo_root(start: Path) -> Path | None:
    """The top of the git work tree around ``start``, or None outside one."""
    result = proc.run("git", "rev-parse", "--show-toplevel", cwd=start, check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def tracked_projects(root: Path) -> list[Path]:
    """Every somlier.yaml of the work tree at ``root``: committed, staged, or new, not ignored."""
    result = proc.run(
        "git",
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        FILENAME,
        f":(glob)**/{FILENAME}",
        cwd=root,
    )
    found = {root / name for name in result.stdout.split("\0") if name}
    return sorted(p for p in found if p.is_file())


def walk_projects(folder: Path) -> list[Path]:
    """Every somlier.yaml under ``folder``, skipping hidden folders and virtual environments."""
    found: list[Path] = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIP
            and not (Path(current, d) / "pyvenv.cfg").exists()
        )
        if FILENAME in files:
            found.append(Path(current) / FILENAME)
    return found


def expand(paths: list[Path]) -> list[Path]:
    """Files stay; folders are searched. A path that does not exist is the user's error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(walk_projects(path))
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return files


def default_projects(cwd: Path) -> list[Path]:
    """``somlier validate`` with no paths: every project of the repo around ``cwd``."""
    root = repo_root(cwd)
    if root is None:
        return walk_projects(cwd)
    return tracked_projects(root)
