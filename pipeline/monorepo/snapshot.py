"""The project folders at a revision, and which of their somlier.yaml files mention
``depends_on``: listed once, then kept between runs in the git directory and brought forward with
a tree diff.

Change detection needs every project folder at head (a changed path belongs to the closest one; a
global change names them all) and every ``depends_on`` (any project may declare one). On a
monorepo of 10,000 projects, listing the folders and reading their 10,000 somlier.yaml files is
most of what a run costs, and the next run's answer is nearly the same. So each run stores what it
found for its head commit in ``<git common dir>/somlier/projects.json``: folder → somlier.yaml blob
id, and the ids of the blobs whose text mentions ``depends_on``. A later run diffs the stored
commit's tree against its own head (git reads only the trees that differ), applies the
somlier.yaml entries of that diff, and reads only the blobs it has not seen before.

What is stored follows from the commit alone (blob ids, and whether a blob's text holds a word),
so it cannot go stale. A missing, unreadable or malformed file, or a commit git no longer has
(gc, a shallow clone), means a full listing, as on a fresh clone; a git directory that cannot be
written only means the next run lists again. The globs themselves are parsed on every run: they
may use ``${VAR}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pipeline.monorepo import gitblobs, gitdiff, projectfile
from pipeline.monorepo.changes import MARKER

FORMAT = 1
FILE = Path("somlier") / "projects.json"  # under the common git directory

_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?\Z")

Source = Literal["stored", "diffed", "listed"]


class Projects:
    """The project folders at a commit (a plain class: a dataclass costs a millisecond to
    define, and this module is imported by every ``pipeline changed``)."""

    __slots__ = ("commit", "markers", "mentions", "source", "texts")

    def __init__(
        self,
        commit: str,
        markers: dict[str, str],
        mentions: set[str],
        texts: dict[str, gitblobs.Blob] | None = None,
        source: Source = "listed",
    ) -> None:
        self.commit = commit
        self.markers = markers  # project folder → somlier.yaml blob id
        self.mentions = mentions  # ids of the blobs that mention depends_on
        self.texts = texts if texts is not None else {}  # blobs this run has read
        # How this run found them: as stored, diffed from a stored commit, or listed in full.
        self.source: Source = source

    def declaring(self) -> dict[str, str]:
        """Folder → blob of the projects whose somlier.yaml may declare ``depends_on``."""
        mentions = self.mentions
        return {f: b for f, b in self.markers.items() if b in mentions}


def marker_path(folder: str) -> str:
    """The somlier.yaml of a project folder, repository-relative."""
    return f"{folder}/{MARKER}" if folder else MARKER


def at(revs: gitdiff.Revisions) -> Projects:
    """The projects at ``revs.head``: stored, brought forward from a stored commit, or listed."""
    path = revs.git_dir / FILE if revs.git_dir is not None else None
    stored = load(path) if path is not None else None
    if stored is not None and stored.commit == revs.head:
        stored.source = "stored"
        return stored
    found = _forward(revs, stored) if stored is not None else None
    if found is None:
        found = _listed(revs)
    if path is not None:
        save(path, found)
    return found


def _listed(revs: gitdiff.Revisions) -> Projects:
    markers = gitdiff.markers(revs.root, revs.head)
    paths = {marker_path(f): b for f, b in markers.items()}
    texts = gitblobs.holding(revs.root, paths, projectfile.MENTION)
    return Projects(revs.head, markers, set(texts), texts, "listed")


def _forward(revs: gitdiff.Revisions, stored: Projects) -> Projects | None:
    """``stored`` moved to ``revs.head`` by the somlier.yaml entries of a tree diff."""
    changed = gitdiff.marker_changes(revs.root, stored.commit, revs.head)
    if changed is None:
        return None
    known = set(stored.markers.values())
    markers = stored.markers
    unseen: dict[str, str] = {}
    for change in changed:
        if change.blob is None:
            markers.pop(change.folder, None)
            continue
        markers[change.folder] = change.blob
        if change.blob not in known:
            unseen[marker_path(change.folder)] = change.blob
    texts = gitblobs.holding(revs.root, unseen, projectfile.MENTION)
    mentions = stored.mentions | set(texts)
    if changed:
        mentions &= set(markers.values())
    return Projects(revs.head, markers, mentions, texts, "diffed")


def load(path: Path) -> Projects | None:
    """The stored projects, or None when there are none (or the file is not one we wrote)."""
    try:
        data: Any = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("marker") != MARKER:
        return None
    commit, markers, mentions = data.get("commit"), data.get("markers"), data.get("mentions")
    if not (
        isinstance(commit, str)
        and _ID.match(commit)
        and isinstance(markers, dict)
        and isinstance(mentions, list)
        and _ids(markers.values(), len(commit))
        and _ids(mentions, len(commit))
    ):
        return None
    return Projects(commit, markers, set(mentions))


def _ids(values: Iterable[Any], length: int) -> bool:
    """Whether every value is an object id of ``length`` lowercase hex digits (JSON keys, the
    folders, are strings by construction; ids go to git, so they are checked)."""
    items = list(values)
    if not all(type(v) is str and len(v) == length for v in items):
        return False
    joined = "".join(items)
    try:  # one pass in C over 10,000 ids rather than a regular expression per id
        digits = len(bytes.fromhex(joined)) * 2
    except ValueError:
        return False
    return digits == len(joined) and joined == joined.lower()


def save(path: Path, projects: Projects) -> None:
    """Store ``projects`` (atomically: a concurrent run reads the old file or the new one)."""
    data = {
        "format": FORMAT,
        "marker": MARKER,
        "commit": projects.commit,
        "markers": projects.markers,
        "mentions": sorted(projects.mentions),
    }
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        partial.replace(path)
    except OSError:  # a read-only git directory: the next run lists again
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
