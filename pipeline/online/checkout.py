"""A shallow checkout of the monorepo at one ref, from a URL or a local repository, into a
folder the caller owns (a temporary one).

A URL is fetched with ``git fetch --depth 1 origin REF`` (a branch, a tag or a full commit id);
a local path is asked for the commit first (``git rev-parse``: short ids work too) and that
commit is fetched the same way over ``file://``. Only committed content is checked out. Git never
prompts for credentials, and a URL's credentials never appear in an error message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline import proc
from pipeline.errors import StepFailed, UserError
from pipeline.online.tracking import redact

_SCP = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@{}~^-]*$")


@dataclass(frozen=True)
class Checkout:
    root: Path  # the work tree
    commit: str  # the full commit id checked out
    ref: str  # as the user named it
    source: str  # the repository, as it may be printed (credentials redacted)


def is_url(source: str) -> bool:
    return "://" in source or bool(_SCP.match(source))


def _git_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {**environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


def _check_ref(ref: str) -> None:
    if not _REF.match(ref) or ".." in ref:
        raise UserError(
            f"{ref!r} is not a git ref", hint="a branch, a tag or a commit id (e.g. main, v1.2.0)"
        )


def _local_commit(path: Path, ref: str, env: Mapping[str, str]) -> str:
    if not path.is_dir():
        raise UserError(f"{path}: no such folder", hint="pass a repository URL or a local clone")
    # --git-dir, not --show-toplevel: a bare repository (a local "origin") has no work tree
    top = proc.run("git", "rev-parse", "--git-dir", cwd=path, env=env, check=False)
    if top.returncode != 0:
        raise UserError(
            f"{path} is not a git repository",
            hint="pass its URL, a local clone or a bare repository",
        )
    found = proc.run(
        "git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
        cwd=path, env=env, check=False,
    )  # fmt: skip
    if found.returncode != 0:
        raise UserError(
            f"no commit {ref!r} in {path}",
            hint="a branch, a tag or a commit id of that repository (git log --oneline)",
        )
    return found.stdout.strip()


def _fetch(url: str, ref: str, dest: Path, env: Mapping[str, str], shown: str) -> None:
    steps = (
        ("init", "-q", "-b", "somlier-checkout"),
        ("remote", "add", "origin", url),
        ("fetch", "-q", "--depth", "1", "--no-tags", "origin", ref),
    )
    for args in steps:
        result = proc.run("git", *args, cwd=dest, env=env, check=False)
        if result.returncode != 0:
            detail = redact(result.stderr.strip().replace(url, shown))
            if args[0] == "fetch":
                raise UserError(
                    f"cannot fetch {ref!r} from {shown}: {detail}",
                    hint="check the repository URL and access, and name a branch, a tag or a "
                    "full commit id",
                )
            raise StepFailed(f"git {args[0]} failed in {dest}: {detail}")


def checkout(source: str, ref: str, dest: Path, environ: Mapping[str, str]) -> Checkout:
    """Check out ``ref`` of ``source`` (URL or local path) into the empty folder ``dest``."""
    _check_ref(ref)
    env = _git_env(environ)
    dest.mkdir(parents=True, exist_ok=True)
    if is_url(source):
        shown = redact(source)
        _fetch(source, ref, dest, env, shown)
        wanted = "FETCH_HEAD"
    else:
        path = Path(source).expanduser().resolve()
        shown = str(path)
        wanted = _local_commit(path, ref, env)
        _fetch(path.as_uri(), wanted, dest, env, shown)
    result = proc.run(
        "git", "-c", "advice.detachedHead=false", "checkout", "-q", "--detach",
        f"{wanted}^{{commit}}", cwd=dest, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise StepFailed(f"git checkout of {ref!r} failed: {redact(result.stderr.strip())}")
    commit = proc.run("git", "rev-parse", "HEAD", cwd=dest, env=env).stdout.strip()
    return Checkout(root=dest, commit=commit, ref=ref, source=shown)
