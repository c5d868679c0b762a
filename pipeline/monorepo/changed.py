"""The named result of change detection and its stable forms: ``--json``, ``--matrix``, text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from pipeline.monorepo.changes import Plan, shown


class ProjectChange(NamedTuple):
    name: str
    path: str
    reasons: tuple[str, ...]


class DeletedProject(NamedTuple):
    name: str
    path: str


class Report(NamedTuple):
    base: str  # commit ids
    head: str
    merge_base: str
    projects: tuple[ProjectChange, ...]
    deleted: tuple[DeletedProject, ...]
    all: bool


def named(
    result: Plan, names: Mapping[str, str], *, base: str, head: str, merge_base: str
) -> Report:
    """Attach project names (``names``: folder → name; a folder's own name when missing)."""

    def name(folder: str) -> str:
        return names.get(folder) or folder.rpartition("/")[2] or "."

    return Report(
        base=base,
        head=head,
        merge_base=merge_base,
        projects=tuple(
            ProjectChange(name(a.path), shown(a.path), a.reasons) for a in result.projects
        ),
        deleted=tuple(DeletedProject(name(f), shown(f)) for f in result.deleted),
        all=result.all,
    )


def as_json(report: Report) -> dict[str, Any]:
    """The stable ``--json`` object."""
    return {
        "base": report.base,
        "head": report.head,
        "merge_base": report.merge_base,
        "projects": [
            {"name": p.name, "path": p.path, "reasons": list(p.reasons)} for p in report.projects
        ],
        "deleted": [{"name": d.name, "path": d.path} for d in report.deleted],
        "all": report.all,
    }


def as_matrix(report: Report, max_jobs: int = 256) -> dict[str, Any]:
    """A GitHub Actions ``strategy.matrix`` (``fromJSON``) over the projects to build: one
    ``{"project", "path"}`` job per project when they are ``max_jobs`` or fewer, else
    ``max_jobs`` balanced batches ``{"batch", "project": a short label, "path": the folders
    separated by spaces, "count"}`` (docs/pipeline.md#matrix)."""
    if len(report.projects) <= max_jobs:
        return {"include": [{"project": p.name, "path": p.path} for p in report.projects]}
    from pipeline.monorepo.batches import batches

    found = batches([(p.name, p.path) for p in report.projects], max_jobs)
    return {
        "include": [
            {"batch": b.number, "project": b.name, "path": " ".join(b.paths), "count": len(b.paths)}
            for b in found
        ]
    }


def as_text(report: Report) -> list[str]:
    """One line per project: ``name (path): reason; reason``; then the deleted ones."""
    lines = [f"{p.name} ({p.path}): {'; '.join(p.reasons)}" for p in report.projects]
    lines += [f"{d.name} ({d.path}): deleted" for d in report.deleted]
    return lines


def summary(report: Report) -> str:
    """The one-line summary printed after the text form."""
    count = len(report.projects)
    text = f"{count} project{'s' if count != 1 else ''} changed"
    if report.all:
        text += " (all: a global path changed)"
    if report.deleted:
        text += f", {len(report.deleted)} deleted"
    return f"{text}; merge base {report.merge_base[:12]}"
