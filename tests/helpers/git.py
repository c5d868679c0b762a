"""Real git repositories for the tests: ``GitRepo`` (a work tree or a bare "origin" and the git
commands tests need) with a pinned identity and date and without the user's or the system's
configuration, so commit ids are the same on every machine. Integration tests only (it runs git);
``tests/integration/conftest.py`` makes ``make_repo`` and ``git_repo`` fixtures of it.

    repo = GitRepo.init(tmp_path / "repo")
    first = repo.commit("add p", {"p/somlier.yaml": TEXT})
    repo.out("rev-parse", "HEAD")  # stdout, stripped
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "somlier tests",
    "GIT_AUTHOR_EMAIL": "tests@somlier.invalid",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_COMMITTER_NAME": "somlier tests",
    "GIT_COMMITTER_EMAIL": "tests@somlier.invalid",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}


class GitRepo:
    """A work tree (or a bare repository) and the git commands the tests need."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def out(self, *args: str) -> str:
        """``git ARGS`` (must succeed): its stdout without the surrounding whitespace."""
        return self.git(*args).strip()

    @classmethod
    def init(cls, path: Path, *, bare: bool = False) -> GitRepo:
        """A new empty repository on branch main at ``path`` (made when missing)."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))
        return repo

    def write(self, files: Mapping[str, str | bytes | None]) -> None:
        """Write (``str`` as UTF-8, ``bytes`` as is) or, for ``None``, delete each file."""
        for relative, content in files.items():
            target = self.path / relative
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_bytes(content.encode("utf-8"))

    def commit(self, message: str, files: Mapping[str, str | bytes | None] | None = None) -> str:
        """Write ``files``, stage everything, commit; return the commit id."""
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.rev("HEAD")

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()

    def clone(self, dest: Path, *args: str) -> GitRepo:
        """``git clone ARGS file://THIS DEST`` (``file://`` so ``--depth`` applies)."""
        GitRepo(dest.parent).git("clone", "-q", *args, f"file://{self.path}", str(dest))
        return GitRepo(dest)


MakeRepo = Callable[..., GitRepo]
