"""git for change detection, through the one subprocess seam: revisions, the merge base, the
diff, the project folders of a tree and how they changed between two trees. Options pin what user
configuration could change in the output; the parsers are pure and the functions that call git
follow them.

Shallow clones (``actions/checkout`` with a small ``fetch-depth``) lack the merge base more often
than not; :func:`merge_base` deepens the history of both commits, doubling the depth each time,
until it is there.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from pipeline import proc
from pipeline.errors import UserError
from pipeline.monorepo.changes import MARKER, Change, folder_of

DEEPEN_FIRST = 50
DEEPEN_TRIES = 8  # 50 … 6,400 more commits, 12,750 in all
REMOTE = "origin"

_FETCH_DEPTH_HINT = (
    "with actions/checkout, set 'fetch-depth: 0' (or a depth that reaches the merge base) and "
    "fetch the base branch too"
)


class Entry(NamedTuple):
    """One changed path with the blob ids of both sides (None where a side is absent)."""

    change: Change
    old_blob: str | None
    new_blob: str | None


class Revisions(NamedTuple):
    root: Path  # top of the work tree
    base: str  # commit ids
    head: str
    shallow: bool
    git_dir: Path | None = None  # the common git directory (shared by worktrees)


class MarkerChange(NamedTuple):
    """A somlier.yaml that differs between two trees: ``blob`` is the new one, None when the new
    tree has no somlier.yaml there (deleted, or no longer a file)."""

    folder: str
    blob: str | None


def parse_raw_diff(text: str) -> list[Entry]:
    """``git diff --raw -z`` output: ``:MODE MODE BLOB BLOB STATUS\\0PATH\\0[PATH\\0]``."""
    fields = text.split("\0")
    entries: list[Entry] = []
    i = 0
    while i < len(fields) and fields[i].startswith(":"):
        _, _, old_blob, new_blob, status = fields[i][1:].split(" ")
        two = status[:1] in ("R", "C")
        path = fields[i + 1]
        change = Change.of(status, path, fields[i + 2] if two else None)
        entries.append(
            Entry(
                change,
                None if change.old is None else old_blob,
                None if change.new is None else new_blob,
            )
        )
        i += 3 if two else 2
    return entries


def parse_markers(text: str, *, index: bool = False) -> dict[str, str]:
    """Project folder → somlier.yaml blob, from ``git ls-tree -r -z`` (``MODE TYPE BLOB\\tPATH``)
    or ``git ls-files -s -z`` (``MODE BLOB STAGE\\tPATH``, with ``index=True``)."""
    markers: dict[str, str] = {}
    tails = ("/" + MARKER, "\t" + MARKER)
    for record in text.split("\0"):
        if not record.endswith(tails):
            continue
        meta, _, path = record.partition("\t")
        mode, second, third = meta.split(" ")
        if mode not in _FILE_MODES or (index and third != "0") or (not index and second != "blob"):
            continue
        markers[folder_of(path)] = second if index else third
    return markers


_FILE_MODES = frozenset({"100644", "100755", "120000"})


def parse_marker_changes(text: str) -> list[MarkerChange]:
    """The somlier.yaml entries of ``git diff --raw -z --no-renames`` output (every entry there
    has one path). A side counts as a project when it is a file or a symlink, as in
    :func:`parse_markers`."""
    fields = text.split("\0")
    found: list[MarkerChange] = []
    for i in range(0, len(fields) - 1, 2):
        meta, path = fields[i], fields[i + 1]
        if not meta.startswith(":") or not (path == MARKER or path.endswith("/" + MARKER)):
            continue
        _, new_mode, _, new_blob, _ = meta[1:].split(" ")
        found.append(MarkerChange(folder_of(path), new_blob if new_mode in _FILE_MODES else None))
    return found


def _git(root: Path, *args: str, stdin: str | None = None) -> str:
    return proc.run("git", *args, cwd=root, stdin=stdin).stdout


def _check_ref(name: str, ref: str) -> None:
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n"):
        raise UserError(f"{name} {ref!r} is not a git revision")


def resolve(cwd: Path, base: str, head: str) -> Revisions:
    """The work tree around ``cwd`` and the commits ``base`` and ``head`` name."""
    _check_ref("--base", base)
    _check_ref("--head", head)
    args = ("rev-parse", "--show-toplevel", "--is-shallow-repository", "--git-common-dir")
    done = proc.run("git", *args, f"{base}^{{commit}}", f"{head}^{{commit}}", cwd=cwd, check=False)
    lines = done.stdout.split("\n")
    if done.returncode == 0 and len(lines) >= 5:
        git_dir = cwd / lines[2]  # relative to cwd unless absolute
        return Revisions(Path(lines[0]), lines[3], lines[4], lines[1] == "true", git_dir)
    if "not a git repository" in done.stderr:
        raise UserError(f"{cwd}: not inside a git repository", hint="run it in the monorepo")
    shallow = lines[1:2] == ["true"]
    for name, ref in (("--base", base), ("--head", head)):
        verify = ("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        if proc.run("git", *verify, cwd=cwd, check=False).returncode != 0:
            hint = "check the name; a branch of the remote is origin/NAME"
            if shallow:
                hint = f"the clone is shallow and may not have it: {_FETCH_DEPTH_HINT}"
            raise UserError(f"{name} {ref!r}: unknown revision (no such commit)", hint=hint)
    raise proc.ProcessError(done)


def _merge_base(root: Path, base: str, head: str) -> str | None:
    done = proc.run("git", "merge-base", base, head, cwd=root, check=False)
    if done.returncode == 0:
        return done.stdout.strip()
    if done.returncode == 1 and not done.stderr.strip():
        return None
    raise proc.ProcessError(done)


def _is_shallow(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-shallow-repository").strip() == "true"


def merge_base(revs: Revisions) -> str:
    """The merge base of base and head (``base...head``), deepening a shallow clone for it."""
    found = _merge_base(revs.root, revs.base, revs.head)
    if found is not None:
        return found
    unrelated = UserError(
        f"{revs.base[:12]} and {revs.head[:12]} have no common history",
        hint="compare a branch with the branch it was made from",
    )
    if not revs.shallow:
        raise unrelated
    depth = DEEPEN_FIRST
    for _ in range(DEEPEN_TRIES):
        fetched = proc.run(
            "git",
            "fetch",
            "--quiet",
            "--no-tags",
            f"--deepen={depth}",
            REMOTE,
            revs.base,
            revs.head,
            cwd=revs.root,
            check=False,
        )
        if fetched.returncode != 0:
            raise UserError(
                "the merge base is not in this shallow clone and fetching more history failed: "
                + (fetched.stderr.strip().splitlines() or ["git fetch failed"])[-1],
                hint=_FETCH_DEPTH_HINT,
            )
        found = _merge_base(revs.root, revs.base, revs.head)
        if found is not None:
            return found
        if not _is_shallow(revs.root):
            raise unrelated
        depth *= 2
    raise UserError(
        "the merge base is not in this shallow clone, even after deepening it by "
        f"{DEEPEN_FIRST * (2**DEEPEN_TRIES - 1):,} commits",
        hint=_FETCH_DEPTH_HINT,
    )


def diff(root: Path, merge_base: str, head: str) -> list[Entry]:
    """Every path changed from ``merge_base`` to ``head``, renames detected."""
    # The porcelain ``diff --raw`` runs 3x faster than ``diff-tree`` here; the options pin what
    # user configuration could change.
    flags = ("--raw", "-z", "-M", "--no-abbrev", "--no-color", "--no-relative", "--no-ext-diff")
    return parse_raw_diff(_git(root, "diff", *flags, merge_base, head, "--"))


def markers(root: Path, rev: str) -> dict[str, str]:
    """Project folder → somlier.yaml blob at ``rev``.

    When the index holds exactly ``rev`` (a CI checkout), it is listed instead of the tree:
    reading 10,000 folders' trees costs twice as much as checking and listing the index. The
    check and the listing run side by side (each loads the index: about 10 ms here).
    """
    check = proc.spawn(["git", "diff-index", "--cached", "--quiet", rev, "--"], cwd=root)
    listed = _git(root, "ls-files", "-s", "-z", "--", MARKER, f"*/{MARKER}")
    check.communicate()
    if check.returncode == 0:
        return parse_markers(listed, index=True)
    return parse_markers(_git(root, "ls-tree", "-r", "-z", "--full-tree", rev))


def marker_changes(root: Path, since: str, rev: str) -> list[MarkerChange] | None:
    """How the somlier.yaml files of ``rev`` differ from those of commit ``since`` (None when git
    cannot tell, e.g. ``since`` is gone). Only the trees that differ are read."""
    # No pathspec (GIT_LITERAL_PATHSPECS would change its meaning): the entries are filtered here.
    flags = ("--raw", "-z", "--no-renames", "--no-abbrev", "--no-color", "--no-relative")
    done = proc.run("git", "diff", *flags, "--no-ext-diff", since, rev, "--", cwd=root, check=False)
    return parse_marker_changes(done.stdout) if done.returncode == 0 else None


def files_under(root: Path, rev: str, folders: Iterable[str]) -> list[str]:
    """Every path at ``rev`` inside ``folders``."""
    specs = [f":(literal){f}/" if f else "." for f in sorted(set(folders))]
    if not specs:
        return []
    out = _git(root, "ls-tree", "-r", "-z", "--name-only", "--full-tree", rev, "--", *specs)
    return [p for p in out.split("\0") if p]
