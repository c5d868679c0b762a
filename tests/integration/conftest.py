"""Real git repositories in tmp dirs for the integration tests (:mod:`tests.helpers.git`).

``git_repo`` is an empty repository on branch ``main``; ``make_repo(name)`` makes more, and
``make_repo(name, bare=True)`` a bare "origin" to push to; ``repo.clone(dest, "--depth", "1")``
clones one over ``file://``. Every git command runs with a pinned identity and date and without the
user's or the system's configuration, so commit ids are the same on every machine; nothing
changes the current folder.

    def test_x(git_repo):
        first = git_repo.commit("add p", {"p/somlier.yaml": TEXT, "p/requirements.txt": ""})
        git_repo.git("switch", "-c", "feature")
        git_repo.commit("remove it", {"p/requirements.txt": None})
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.git import GIT_ENV, GitRepo, MakeRepo

__all__ = ["GIT_ENV", "GitRepo", "MakeRepo"]  # kept importable here; import tests.helpers.git


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """``make_repo(name, bare=False)``: a new empty repository on branch main at
    ``tmp_path / name``."""

    def make(name: str, bare: bool = False) -> GitRepo:
        path = tmp_path / name
        path.mkdir()
        repo = GitRepo(path)
        repo.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))
        return repo

    return make


@pytest.fixture
def git_repo(make_repo: MakeRepo) -> GitRepo:
    """An empty repository on branch main."""
    return make_repo("repo")
