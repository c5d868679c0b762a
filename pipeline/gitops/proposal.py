"""The pure part of publishing: which DAG files change, the commit message, the PR text.

Trees are compared by git object id, computed here the way git computes a blob's id, so the
decision "nothing to publish" needs no commit and no push.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.gitops.publication import DAG_ID, Changes, PublishRequest
from pipeline.monorepo import gitblobs

FILE_MODE = "100644"
MARKER = "<!-- somlier:dags {project} -->"
TRAILER_SOURCE = "Somlier-Source-Commit"
TRAILER_PROJECT = "Somlier-Project"
MAX_ROWS = 300  # a PR body holds at most 65,536 characters


@dataclass(frozen=True)
class Entry:
    """One file of a tree: its mode and object id."""

    mode: str
    oid: str


Tree = Mapping[str, Entry]  # file name inside the project's folder -> entry


def blob_id(data: bytes) -> str:
    """The id git gives a blob holding ``data`` (``git hash-object --no-filters``) in a SHA-1
    repository."""
    return gitblobs.blob_id(data, 40)


def encode(source: str) -> bytes:
    return source.encode("utf-8")


def file_name(dag_id: str) -> str:
    return f"{dag_id}.py"


def desired_tree(files: Mapping[str, str]) -> dict[str, Entry]:
    return {file_name(d): Entry(FILE_MODE, blob_id(encode(s))) for d, s in files.items()}


def target_tree(current: Tree, files: Mapping[str, str], *, prune: bool) -> dict[str, Entry]:
    """The project's folder after a publish: exactly ``files`` (``prune``), or ``files``
    written over what ``current`` holds (the other files kept)."""
    written = desired_tree(files)
    return written if prune else {**current, **written}


def _label(name: str) -> str:
    """A file's dag_id when it is a DAG file somlier writes, else its name as it is."""
    stem = name[:-3] if name.endswith(".py") else ""
    return stem if stem and "/" not in stem and DAG_ID.fullmatch(stem) else name


def diff_trees(current: Tree, desired: Tree) -> Changes:
    """What replacing ``current`` by ``desired`` does, by dag_id, each list sorted."""
    added, updated, removed, kept = [], [], [], []
    for name in sorted(current.keys() | desired.keys()):
        before, after = current.get(name), desired.get(name)
        if before is None:
            added.append(_label(name))
        elif after is None:
            removed.append(_label(name))
        elif before != after:
            updated.append(_label(name))
        else:
            kept.append(_label(name))
    return Changes(tuple(added), tuple(updated), tuple(removed), tuple(kept))


def subject(request: PublishRequest) -> str:
    return f"somlier: DAGs of {request.project} from {request.source_repo}@{request.source_commit}"


def commit_message(request: PublishRequest, changes: Changes) -> str:
    """Subject, what this commit changes, and trailers a later run reads back."""
    lines = [subject(request), ""]
    for label, names in (
        ("Added", changes.added),
        ("Updated", changes.updated),
        ("Removed", changes.removed),
    ):
        if names:
            lines.append(f"{label}: {', '.join(names)}")
    lines += [
        "",
        f"{TRAILER_PROJECT}: {request.project}",
        f"{TRAILER_SOURCE}: {request.source_repo}@{request.source_commit}",
    ]
    return "\n".join(lines) + "\n"


def source_of(message: str) -> tuple[str, str] | None:
    """(source repo, source commit) from a commit message written by :func:`commit_message`."""
    for line in reversed(message.splitlines()):
        key, sep, value = line.partition(": ")
        if sep and key == TRAILER_SOURCE:
            repo, at, sha = value.strip().rpartition("@")
            if at and repo and sha:
                return repo, sha
    return None


def pr_title(project: str) -> str:
    return f"somlier: DAGs of {project}"


def _rows(changes: Changes) -> list[str]:
    rows = [
        f"| `{name}` | {what} |"
        for what, names in (
            ("added", changes.added),
            ("updated", changes.updated),
            ("removed", changes.removed),
        )
        for name in names
    ]
    if len(rows) > MAX_ROWS:
        rows = [*rows[:MAX_ROWS], f"| … | and {len(rows) - MAX_ROWS} more |"]
    return rows


def pr_body(
    request: PublishRequest, changes: Changes, base: str, latest: Changes | None = None
) -> str:
    """The PR description: what merging it changes in ``dags/<project>/`` and from which
    source commit. ``changes`` are against ``base``, so the text stays true across updates;
    ``latest``: what the newest commit changed, when it went on top of earlier ones."""
    short = request.source_commit[:12]
    lines = [
        MARKER.format(project=request.project),
        f"DAG files of **{request.project}**, rendered by somlier from "
        f"{request.source_repo}@{request.source_commit}.",
        "",
    ]
    if changes.empty:
        lines.append(
            f"`{request.folder}/` no longer differs from `{base}`: this pull request can be closed."
        )
    else:
        lines += ["| DAG | change |", "| --- | --- |", *_rows(changes)]
        if changes.kept:
            lines += ["", f"Unchanged: {len(changes.kept)} DAG file(s)."]
    if latest is not None and not latest.empty:
        lines += ["", f"Latest update: {latest.describe()}."]
    lines += [
        "",
        f"Source commit: `{request.source_commit}` (`{short}`) of `{request.source_repo}`.",
        "",
        f"The branch `{request.branch}` belongs to somlier and is rewritten on every publish: "
        f"change the jobs in the project's `somlier.yaml` in `{request.source_repo}`, not the "
        "files here.",
    ]
    return "\n".join(lines) + "\n"
