"""The git side of publishing, through the one subprocess seam.

A scratch repository fetches the two branches that matter (the default branch and
``somlier/<project>``, one commit deep), builds the new commit in a private index file (no
checkout of the dags repository), and pushes it with an explicit lease.

Every git command runs without the user's or the system's configuration, without hooks or
credential helpers, as the bot identity. A token reaches git only as an HTTP header in the
environment (``GIT_CONFIG_KEY_0``), scoped to the repository's host: never in a command line,
a URL, or a file; and every error text is passed through :class:`Redactor` on top of that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline import proc
from pipeline.errors import StepFailed
from pipeline.gitops.gitparse import (
    Push,
    Redactor,
    Remote,
    auth_header,
    parse_ls_remote,
    parse_ls_tree,
    parse_push,
)
from pipeline.gitops.proposal import FILE_MODE, Entry, blob_id, encode, file_name
from pipeline.gitops.publication import Identity
from pipeline.secret import Secret

_NULL_OID = "0" * 40
# Read from the caller's environment: what git needs to find itself and the network.
_PASSTHROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "SYSTEMROOT",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "GIT_SSL_CAINFO",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_CONFIG = (
    "core.hooksPath=/dev/null",
    "credential.helper=",
    "core.autocrlf=false",
    "commit.gpgSign=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "init.defaultBranch=main",
)


class PublishError(StepFailed):
    """git refused or failed while publishing the DAG files."""


def git_env(
    identity: Identity, url: str, token: Secret | None, home: Path, environ: Mapping[str, str]
) -> dict[str, str]:
    env = {k: environ[k] for k in _PASSTHROUGH if k in environ}
    env.update(
        {
            "GIT_AUTHOR_NAME": identity.name,
            "GIT_AUTHOR_EMAIL": identity.email,
            "GIT_COMMITTER_NAME": identity.name,
            "GIT_COMMITTER_EMAIL": identity.email,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_LITERAL_PATHSPECS": "1",
            "HOME": str(home),  # no ~/.netrc, no ~/.git-credentials of whoever runs this
        }
    )
    parts = urlsplit(url)
    if token is not None and parts.scheme in ("http", "https"):
        env["GIT_CONFIG_COUNT"] = "1"
        env["GIT_CONFIG_KEY_0"] = f"http.{parts.scheme}://{parts.netloc}/.extraheader"
        env["GIT_CONFIG_VALUE_0"] = auth_header(token.reveal())
    return env


@dataclass(frozen=True)
class Branches:
    """A base branch and a work branch as fetched (see :meth:`RepoClone.fetch_branches`)."""

    base: str
    base_sha: str
    branch_sha: str | None


class RepoClone:
    """A scratch repository at ``path`` (created) for a GitOps repository at ``url`` (the dags
    repository or the deploy repository)."""

    def __init__(
        self,
        path: Path,
        url: str,
        *,
        token: Secret | None,
        identity: Identity,
        environ: Mapping[str, str],
    ) -> None:
        self.path = path
        self.url = url
        self._redact = Redactor(token.reveal() if token is not None else None)
        home = path / "home"
        home.mkdir(parents=True)
        self._env = git_env(identity, url, token, home, environ)
        self._index = path / "publish.index"
        self._scratch = path / "files"
        self.repo = path / "repo"
        self.repo.mkdir()
        self.git("init", "-q")

    def git(
        self, *args: str, stdin: str | None = None, check: bool = True, index: bool = False
    ) -> proc.Result:
        env = {**self._env, "GIT_INDEX_FILE": str(self._index)} if index else self._env
        argv = [part for item in _CONFIG for part in ("-c", item)]
        try:
            return proc.run("git", *argv, *args, cwd=self.repo, env=env, stdin=stdin, check=check)
        except proc.ProcessError as exc:
            raise PublishError(self._redact(str(exc))) from None

    def ls_remote(self, *refs: str) -> Remote:
        """The remote's default branch and the object ids of ``refs`` (full names) there."""
        out = self.git("ls-remote", "--symref", self.url, "HEAD", *refs).stdout
        return parse_ls_remote(out)

    def fetch_branches(
        self, branch: str, base_branch: str | None, *, what: str, setting: str
    ) -> Branches:
        """The base branch (``base_branch``, else the remote's default) and ``branch``, fetched:
        their names and commit ids (``branch_sha`` None when the remote has no such branch).
        ``what``/``setting`` name the repository in the error (``the dags repository``,
        ``github.dags_repo``)."""
        branch_ref = f"refs/heads/{branch}"
        asked = [f"refs/heads/{base_branch}"] if base_branch else []
        remote = self.ls_remote(*asked, branch_ref)
        base = base_branch or remote.head
        if base is None or f"refs/heads/{base}" not in remote.refs:
            raise PublishError(
                f"{what} has no branch {base or '(default)'}",
                hint=f"push a first commit to its default branch, or check {setting}",
            )
        wanted = {f"refs/heads/{base}": f"refs/remotes/origin/{base}"}
        if branch_ref in remote.refs:
            wanted[branch_ref] = f"refs/remotes/origin/{branch}"
        fetched = self.fetch(wanted)
        return Branches(
            base, fetched[wanted[f"refs/heads/{base}"]], fetched.get(wanted.get(branch_ref, ""))
        )

    def fetch(self, refs: Mapping[str, str]) -> dict[str, str]:
        """Fetch ``{remote ref: local ref}`` one commit deep; the local ids fetched."""
        if not refs:
            return {}
        specs = [f"+{remote}:{local}" for remote, local in refs.items()]
        self.git("fetch", "-q", "--no-tags", "--depth=1", self.url, *specs)
        return {local: self.rev(local) for local in refs.values()}

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}").stdout.strip()

    def tree(self, rev: str, folder: str) -> dict[str, Entry]:
        out = self.git("ls-tree", "-r", "-z", "--full-tree", rev, "--", f"{folder}/").stdout
        return parse_ls_tree(out, folder)

    def message(self, rev: str) -> str:
        return self.git("log", "-1", "--format=%B", rev).stdout

    def build_commit(
        self,
        parent: str,
        folder: str,
        remove: Sequence[str],
        files: Mapping[str, str],
        message: str,
    ) -> str:
        """A commit on ``parent`` with ``files`` (dag_id → source) written in ``folder`` and
        the files named ``remove`` deleted from it."""
        self._scratch.mkdir(exist_ok=True)
        paths = []
        for dag_id, source in sorted(files.items()):
            path = self._scratch / file_name(dag_id)
            path.write_bytes(encode(source))
            paths.append(str(path))
        oids = (
            self.git(
                "hash-object", "-w", "--no-filters", "--stdin-paths", stdin="\n".join(paths) + "\n"
            ).stdout.split()
            if paths
            else []
        )
        expected = [blob_id(encode(files[d])) for d in sorted(files)]
        if oids != expected:  # the plan compared trees by these ids: they must be git's
            raise PublishError(f"git hashed the DAG files differently than planned: {oids[:3]}")
        lines = [f"0 {_NULL_OID}\t{folder}/{name}" for name in remove]
        lines += [
            f"{FILE_MODE} {oid}\t{folder}/{file_name(d)}"
            for d, oid in zip(sorted(files), oids, strict=True)
        ]
        self._index.unlink(missing_ok=True)
        self.git("read-tree", parent, index=True)
        self.git("update-index", "--index-info", stdin="\n".join(lines) + "\n", index=True)
        tree = self.git("write-tree", index=True).stdout.strip()
        return self.git("commit-tree", tree, "-p", parent, "-F", "-", stdin=message).stdout.strip()

    def push(self, commit: str, branch: str, expected: str | None) -> Push:
        """Push ``commit`` to ``branch`` if the branch is still at ``expected`` (``None``:
        absent); a moved branch is a conflict, not an error."""
        ref = f"refs/heads/{branch}"
        lease = f"--force-with-lease={ref}:{expected or ''}"
        done = self.git("push", "--porcelain", lease, self.url, f"{commit}:{ref}", check=False)
        outcome = parse_push(done.stdout, ref)
        if outcome.state == "refused":
            text = "\n".join(t for t in (done.stdout.strip(), done.stderr.strip()) if t)
            raise PublishError(
                self._redact(f"git push to {branch} was refused: {outcome.reason}\n{text}"),
                hint="the token needs contents:write on the dags repository; a branch "
                "protection rule must not cover somlier/*",
            )
        return outcome

    def diff(self, old: str, new: str, folder: str) -> str:
        return self.git(
            "diff", "--no-color", "--no-ext-diff", "--no-textconv", old, new, "--", f"{folder}/"
        ).stdout


def is_ancestor(root: Path, older: str, newer: str) -> bool | None:
    """Whether ``older`` is an ancestor of ``newer`` in the repository at ``root``; ``None``
    when git cannot tell (a shallow checkout without one of them)."""
    done = proc.run("git", "merge-base", "--is-ancestor", older, newer, cwd=root, check=False)
    return {0: True, 1: False}.get(done.returncode)
