"""``somlier pipeline changed``: from two git revisions to a named :class:`~changed.Report`.

One git process per step: resolve the revisions; find the merge base (deepening a shallow
clone); diff it against head; find the project folders at head and which of their somlier.yaml
files mention ``depends_on`` (:mod:`~pipeline.monorepo.snapshot`: stored by an earlier run and
brought forward with a tree diff, or listed in full) and read those; validate the somlier.yaml
files the diff adds or changes, byte for byte as they are at head (in the work tree when it holds
head there, else in a scratch folder); plan (:mod:`pipeline.monorepo.changes`); name the
projects.

The YAML loader, the schema validators and the platform settings are imported when a step needs
them, not with this module: ``somlier pipeline changed`` is a CI step that runs on every push.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.monorepo import changed, changes, gitblobs, gitdiff, projectfile, snapshot
from pipeline.monorepo.changes import folder_of, is_marker
from pipeline.monorepo.snapshot import marker_path

if TYPE_CHECKING:
    from pipeline.config.variables import Variables


def validate_at_head(
    revs: gitdiff.Revisions,
    files: Mapping[str, str],
    texts: Mapping[str, gitblobs.Blob],
    environ: Mapping[str, str],
    rule: projectfile.Rule,
) -> dict[str, str]:
    """Validate ``files`` (somlier.yaml path → blob id at head; ``texts``: blob id → content);
    return folder → project name, or raise :class:`ConfigError` with every diagnostic (paths
    relative to the repository).

    The checks look around the file (is requirements.txt there?), so each file is validated
    among the files its folder holds at head: in the work tree when it holds exactly those (a CI
    checkout), else in a scratch folder that mirrors them (empty) around the exact bytes.
    """
    if not files:
        return {}
    from pipeline.config.validation import validate_files
    from pipeline.errors import ConfigError

    folders = {folder_of(p) for p in files}
    listed = gitdiff.files_under(revs.root, revs.head, folders)
    variables = rule()  # the work tree's rule, also for the scratch copy
    if gitblobs.checked_out(revs.root, files) and _holds_exactly(revs.root, folders, listed):
        result = validate_files(
            [revs.root / p for p in sorted(files)], environ, cwd=revs.root, variables=variables
        )
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="somlier-changed-") as scratch:
            root = Path(scratch)
            for path in listed:
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch()
            inexact = []
            for path, blob in files.items():
                raw = texts[blob].exact
                if raw is None:
                    inexact.append(path)
                else:
                    (root / path).write_bytes(raw)
            gitblobs.export(revs.root, revs.head, inexact, root)
            result = validate_files(
                [root / p for p in sorted(files)], environ, cwd=root, variables=variables
            )
    if not result.ok:
        raise ConfigError([d for r in result.reports for d in r.diagnostics])
    return {folder_of(r.path): r.project for r in result.reports if r.project}


def _holds_exactly(root: Path, folders: Iterable[str], listed: Iterable[str]) -> bool:
    """Whether the work tree has exactly the files ``listed`` under ``folders``, none of them a
    symlink (the scratch folder would hold a plain file there). Not for the root folder: that
    would mean walking the whole work tree."""
    top = os.fspath(root)
    pending = list(folders)
    if "" in pending:
        return False
    seen: set[str] = set()
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(f"{top}/{folder}"))
        except OSError:
            return False
        for entry in entries:
            path = f"{folder}/{entry.name}"
            if entry.is_symlink():
                return False
            if entry.is_dir():
                pending.append(path)
            else:
                seen.add(path)
    return seen == set(listed)


def global_paths(root: Path, environ: Mapping[str, str]) -> tuple[str, ...]:
    """``monorepo.global_paths`` of the platform settings (``.somlier/platform.yaml``, validated
    as a whole, and ``SOMLIER__…`` variables): from the settings cache when this monorepo's
    settings were loaded before, which spares importing and defining them."""
    from pipeline.config import settings_cache
    from pipeline.config.pins import pinned_for

    pin = pinned_for(root)
    if pin is not None:
        return pin.monorepo.global_paths
    cached = settings_cache.global_paths(root, environ)
    if cached is not None:
        return cached
    from pipeline.config.settings_load import load_settings

    return load_settings(root, environ).monorepo.global_paths


def _rule(root: Path, environ: Mapping[str, str]) -> projectfile.Rule:
    """The monorepo's ``${VAR}`` rule, from its settings the first time a file needs it."""
    found: list[Variables] = []

    def rule() -> Variables:
        if not found:
            from pipeline.config.variables_load import for_root

            found.append(for_root(root, environ))
        return found[0]

    return rule


def detect(cwd: Path, base: str, head: str, environ: Mapping[str, str]) -> changed.Report:
    """The projects ``head`` changes relative to its merge base with ``base``."""
    revs = gitdiff.resolve(cwd, base, head)
    merge_base = gitdiff.merge_base(revs)
    entries = gitdiff.diff(revs.root, merge_base, revs.head)
    shared = global_paths(revs.root, environ)
    rule = _rule(revs.root, environ)
    found = snapshot.at(revs)
    head_markers, texts = found.markers, found.texts

    def read(folders: Mapping[str, str]) -> None:
        """Make sure ``texts`` has the blobs of ``folders`` (folder → blob)."""
        missing = {marker_path(f): b for f, b in folders.items() if b not in texts}
        texts.update(gitblobs.read(revs.root, missing))

    edited_blobs = {
        folder_of(e.change.new): e.new_blob
        for e in entries
        if is_marker(e.change.new)
        and e.new_blob is not None
        and head_markers.get(folder_of(e.change.new)) == e.new_blob
    }
    declaring = found.declaring()
    read({**edited_blobs, **declaring})
    names = validate_at_head(
        revs, {marker_path(f): b for f, b in edited_blobs.items()}, texts, environ, rule
    )

    depends: dict[str, tuple[str, ...]] = {}
    for folder, blob in declaring.items():
        globs = projectfile.depends_on(texts[blob].text, marker_path(folder), environ, rule)
        if globs:
            depends[folder] = globs
    diffs = [e.change for e in entries]
    head_folders = set(head_markers)
    result = changes.plan(
        diffs,
        head=head_folders,
        base=changes.base_folders(head_folders, diffs),
        depends_on=depends,
        global_paths=shared,
    )

    affected = {a.path: head_markers[a.path] for a in result.projects if a.path not in names}
    read(affected)
    by_folder = {f: texts[b].text for f, b in affected.items()}
    gone = {folder_of(e.change.old): e.old_blob for e in entries if is_marker(e.change.old)}
    old = gitblobs.read_blobs(revs.root, (b for f in result.deleted if (b := gone.get(f))))
    by_folder.update((f, old[b].text) for f in result.deleted if (b := gone.get(f)) in old)
    for folder, text in by_folder.items():
        name = (
            None if folder in names else projectfile.name(text, marker_path(folder), environ, rule)
        )
        if name:
            names[folder] = name
    return changed.named(result, names, base=revs.base, head=revs.head, merge_base=merge_base)
