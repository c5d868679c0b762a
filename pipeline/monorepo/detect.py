"""``somlier pipeline changed``: from two git revisions to a named :class:`~report.Report`.

One git process per step: resolve the revisions; find the merge base (deepening a shallow
clone); diff it against head; list the project folders at head (the merge base's follow from
head's and the diff) and read every somlier.yaml there (``depends_on`` may be anywhere); validate
the somlier.yaml files the diff adds or changes, byte for byte as they are at head, in a scratch
folder; plan (:mod:`pipeline.monorepo.changes`); name the projects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from pipeline.config.settings import load_settings
from pipeline.config.validation import validate_files
from pipeline.errors import ConfigError
from pipeline.monorepo import changes, gitblobs, gitdiff, projectfile, report
from pipeline.monorepo.changes import MARKER, folder_of, is_marker

Index = tuple[dict[str, str], dict[str, gitblobs.Blob]]  # folder → blob, blob → content


def project_index(root: Path, rev: str) -> Index:
    """Every project folder at ``rev`` and its somlier.yaml (read from the work tree if equal)."""
    found = gitdiff.markers(root, rev)
    paths = {_shown(folder): blob for folder, blob in found.items()}
    blobs = gitblobs.read_checked_out(root, paths)
    blobs.update(gitblobs.read_blobs(root, (b for b in found.values() if b not in blobs)))
    return found, blobs


def validate_at_head(
    revs: gitdiff.Revisions,
    files: Mapping[str, gitblobs.Blob],
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Validate ``files`` (somlier.yaml path → blob at head); return folder → project name, or
    raise :class:`ConfigError` with every diagnostic (paths relative to the repository)."""
    if not files:
        return {}
    with tempfile.TemporaryDirectory(prefix="somlier-changed-") as scratch:
        root = Path(scratch)
        # The checks look around the file (is requirements.txt there?): mirror the folder, empty.
        for path in gitdiff.files_under(revs.root, revs.head, map(folder_of, files)):
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        inexact = []
        for path, blob in files.items():
            raw = blob.exact
            if raw is None:
                inexact.append(path)
            else:
                (root / path).write_bytes(raw)
        gitblobs.export(revs.root, revs.head, inexact, root)
        result = validate_files([root / p for p in sorted(files)], environ, cwd=root)
    if not result.ok:
        raise ConfigError([d for r in result.reports for d in r.diagnostics])
    return {folder_of(r.path): r.project for r in result.reports if r.project}


def detect(cwd: Path, base: str, head: str, environ: Mapping[str, str]) -> report.Report:
    """The projects ``head`` changes relative to its merge base with ``base``."""
    revs = gitdiff.resolve(cwd, base, head)
    merge_base = gitdiff.merge_base(revs)
    entries = gitdiff.diff(revs.root, merge_base, revs.head)
    settings = load_settings(revs.root, environ)
    head_markers, blobs = project_index(revs.root, revs.head)
    edited = {
        e.change.new: blobs[e.new_blob]
        for e in entries
        if is_marker(e.change.new) and e.new_blob in blobs
    }
    names = validate_at_head(revs, edited, environ)

    depends: dict[str, tuple[str, ...]] = {}
    for folder, blob in head_markers.items():
        globs = projectfile.depends_on(blobs[blob].text, _shown(folder), environ)
        if globs:
            depends[folder] = globs
    diffs = [e.change for e in entries]
    head_folders = set(head_markers)
    result = changes.plan(
        diffs,
        head=head_folders,
        base=changes.base_folders(head_folders, diffs),
        depends_on=depends,
        global_paths=settings.monorepo.global_paths,
    )

    texts = {a.path: blobs[head_markers[a.path]].text for a in result.projects}
    gone = {folder_of(e.change.old): e.old_blob for e in entries if is_marker(e.change.old)}
    old = gitblobs.read_blobs(revs.root, (b for f in result.deleted if (b := gone.get(f))))
    texts.update((f, old[b].text) for f in result.deleted if (b := gone.get(f)) in old)
    for folder, text in texts.items():
        name = None if folder in names else projectfile.name(text, _shown(folder), environ)
        if name:
            names[folder] = name
    return report.named(result, names, base=revs.base, head=revs.head, merge_base=merge_base)


def _shown(folder: str) -> str:
    return f"{folder}/{MARKER}" if folder else MARKER
