"""Which projects a change touches: the pure core of ``somlier pipeline changed`` (no I/O).

Input: the changed paths of a diff from the merge base to head, the project folders (folders
holding a somlier.yaml) at head and at the merge base, each project's ``depends_on`` globs and the
platform's global paths. Output: a :class:`Plan` of project folders, each with its reasons.

The rules:

* A path belongs to the closest folder with a somlier.yaml (nested projects: the longest prefix
  wins; a path under no project belongs to none). The old side of a change is looked up among
  the projects at the merge base, the new side among the projects at head, so a rename across
  projects, or a file that changes owner when a nested project appears, counts on both sides.
* A project whose somlier.yaml is gone at head is deleted: listed in ``deleted``, never built.
  A somlier.yaml renamed to a folder that was no project moves the project ("renamed from").
  Adding or removing a nested project changes what its enclosing project holds.
* A project whose ``depends_on`` glob matches a changed path is affected; a changed path matching
  a global path affects every project (``all``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import NamedTuple, TypeGuard

from pipeline.monorepo.globs import GlobIndex, ancestors

# The file that makes its folder a project: pipeline.config.project.FILENAME, spelled out here so
# change detection does not import the YAML and schema machinery it rarely needs (a test checks
# that the two agree).
MARKER = "somlier.yaml"
# The value types here and in the other modules of change detection are NamedTuples, not
# dataclasses: defining a dataclass costs about a millisecond, at every start of the CLI step.
SHOWN_PER_KIND = 5  # reasons of one kind listed per project; the rest are counted


class Change(NamedTuple):
    """One entry of a name-status diff: ``old`` is None when added, ``new`` when deleted."""

    status: str  # git's letter: A, M, D, R, T (C is read as A)
    old: str | None
    new: str | None

    @classmethod
    def of(cls, status: str, path: str, new_path: str | None = None) -> Change:
        """From git's fields: ``R`` and ``C`` carry two paths (old, new)."""
        letter = status[:1]
        if letter == "R" and new_path is not None:
            return cls("R", path, new_path)
        if letter == "C" and new_path is not None:
            return cls("A", None, new_path)
        if letter == "A":
            return cls("A", None, path)
        if letter == "D":
            return cls("D", path, None)
        return cls(letter, path, path)


class Affected(NamedTuple):
    path: str  # the project folder, "" for a project at the repository root
    reasons: tuple[str, ...]


class Plan(NamedTuple):
    projects: tuple[Affected, ...]  # sorted by path
    deleted: tuple[str, ...]  # folders of projects gone at head, sorted
    all: bool  # a global path changed: every project is in ``projects``


def folder_of(path: str) -> str:
    return path.rpartition("/")[0]


def is_marker(path: str | None) -> TypeGuard[str]:
    """Is ``path`` a somlier.yaml (the file that makes its folder a project)?"""
    return path is not None and (path == MARKER or path.endswith("/" + MARKER))


def base_folders(head: Set[str], changes: Iterable[Change]) -> set[str]:
    """The project folders at the merge base, from those at head and the diff between them."""
    added: set[str] = set()
    removed: set[str] = set()
    for change in changes:
        if is_marker(change.new):
            added.add(folder_of(change.new))
        if is_marker(change.old):
            removed.add(folder_of(change.old))
    return (set(head) - added) | removed


class _Owners:
    """The project a path belongs to, memoised per folder."""

    def __init__(self, folders: Set[str]) -> None:
        self.folders = folders
        self.memo: dict[str, str | None] = {}

    def of(self, path: str) -> str | None:
        folder = folder_of(path)
        try:
            return self.memo[folder]
        except KeyError:
            pass
        found = next((f for f in ancestors(folder) if f in self.folders), None)
        self.memo[folder] = found
        return found


class _Reasons:
    """Reasons of one project, grouped by kind, listed in a fixed order."""

    ORDER = ("moved", "nested", "changed", "renamed", "depends_on", "global")

    def __init__(self) -> None:
        self.kinds: dict[tuple[str, str], set[str]] = {}
        self.fixed: dict[tuple[str, str], tuple[str, ...]] = {}  # rendered once, shared

    def add(self, kind: str, text: str) -> None:
        self.kinds.setdefault((kind, ""), set()).add(text)

    def render(self, shared: tuple[str, ...] = ()) -> tuple[str, ...]:
        out: list[str] = []
        for key in sorted({*self.kinds, *self.fixed}, key=lambda k: (self.ORDER.index(k[0]), k)):
            texts = self.fixed.get(key)
            out += texts if texts is not None else _capped(key[0], "", self.kinds[key])
        return (*out, *shared)


def _capped(kind: str, group: str, texts: Iterable[str]) -> list[str]:
    ordered = sorted(texts)
    if len(ordered) <= SHOWN_PER_KIND:
        return ordered
    more = len(ordered) - SHOWN_PER_KIND
    label = f"depends_on: {group}" if kind == "depends_on" else kind
    return [*ordered[:SHOWN_PER_KIND], f"{label}: {more} more paths"]


def plan(
    changes: Sequence[Change],
    *,
    head: Set[str],
    base: Set[str],
    depends_on: Mapping[str, Sequence[str]],
    global_paths: Sequence[str],
) -> Plan:
    """The projects ``changes`` touch; ``head``/``base``: project folders at head / merge base."""
    head_owner, base_owner = _Owners(head), _Owners(base)
    reasons: dict[str, _Reasons] = {}

    def entry(folder: str) -> _Reasons:
        found = reasons.get(folder)
        if found is None:
            found = reasons[folder] = _Reasons()
        return found

    def add(folder: str | None, kind: str, text: str) -> None:
        if folder is not None and folder in head:
            entry(folder).add(kind, text)

    moved: set[str] = set()
    for change in changes:
        if change.status == "R" and is_marker(change.old) and is_marker(change.new):
            source, target = folder_of(change.old), folder_of(change.new)
            if source in base and source not in head and target in head and target not in base:
                moved.add(source)
                add(target, "moved", f"renamed from {shown(source)}")

    dependents: dict[str, list[str]] = {}  # glob → the projects that declare it
    for folder, globs in depends_on.items():
        if folder in head:
            for glob in globs:
                dependents.setdefault(glob, []).append(folder)
    deps = GlobIndex((glob, glob) for glob in dependents)
    globals_ = GlobIndex((glob, glob) for glob in global_paths)
    dep_hits: dict[str, set[str]] = {}
    global_hits: set[str] = set()

    for change in changes:
        old, new = change.old, change.new
        if change.status == "R":
            text = f"renamed: {old} -> {new}"
            kind = "renamed"
        else:
            text = f"changed: {new if new is not None else old}"
            kind = "changed"
        # The old side belongs to a project at the merge base, the new side to one at head.
        if old is not None:
            add(base_owner.of(old), kind, text)
        if new is not None:
            add(head_owner.of(new), kind, text)
        _boundaries(change, head, base, head_owner, add)
        for path in {p for p in (old, new) if p is not None}:
            if deps:
                for glob, _ in deps.matches(path):
                    dep_hits.setdefault(glob, set()).add(path)
            if globals_ and any(globals_.matches(path)):
                global_hits.add(path)

    # One rendering per glob, shared by every project that declares it.
    for glob, paths in dep_hits.items():
        texts = tuple(_capped("depends_on", glob, (f"depends_on: {glob} ({p})" for p in paths)))
        for folder in dependents[glob]:
            entry(folder).fixed[("depends_on", glob)] = texts

    shared = tuple(_capped("global", "", (f"global: {p}" for p in global_hits)))
    every = bool(global_hits)
    folders = sorted(head) if every else sorted(reasons)
    empty = _Reasons()
    return Plan(
        projects=tuple(
            Affected(f, reasons.get(f, empty).render(shared if every else ())) for f in folders
        ),
        deleted=tuple(sorted(base - head - moved)),
        all=every,
    )


_Add = Callable[[str | None, str, str], None]


def _boundaries(change: Change, head: Set[str], base: Set[str], owners: _Owners, add: _Add) -> None:
    """A nested project that appears or goes changes what its enclosing project holds."""
    if is_marker(change.new):
        folder = folder_of(change.new)
        if folder and folder in head and folder not in base:
            add(owners.of(folder), "nested", f"nested project added: {folder}")
    if is_marker(change.old):
        folder = folder_of(change.old)
        if folder and folder in base and folder not in head:
            add(owners.of(folder), "nested", f"nested project removed: {folder}")


def shown(folder: str) -> str:
    """A folder as printed: ``.`` for the repository root."""
    return folder or "."
