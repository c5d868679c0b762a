"""Validate many somlier.yaml files: each on its own (in parallel when there are many), then the
rules that span the monorepo (unique project names and dag_ids)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config.interpolate import KeyPath, scrub
from pipeline.config.project import FileReport, check_file, locate_key
from pipeline.config.schema import format_path, suggest
from pipeline.errors import Diagnostic

if TYPE_CHECKING:
    from pipeline.config.variables import Variables

PARALLEL_THRESHOLD = 64  # below this many files, a worker pool costs more than it saves

_ENVIRON: Mapping[str, str] = {}
_VARIABLES: Variables | None = None


@dataclass(frozen=True)
class Result:
    reports: tuple[FileReport, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def error_count(self) -> int:
        return sum(len(r.diagnostics) for r in self.reports)


def _init(environ: Mapping[str, str], variables: Variables | None) -> None:
    global _ENVIRON, _VARIABLES
    _ENVIRON, _VARIABLES = environ, variables


def _check(item: tuple[str, str]) -> FileReport:
    return check_file(Path(item[0]), item[1], _ENVIRON, _VARIABLES)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_all(
    items: list[tuple[str, str]],
    environ: Mapping[str, str],
    jobs: int,
    variables: Variables | None,
) -> list[FileReport]:
    if jobs <= 1 or len(items) < PARALLEL_THRESHOLD:
        return [check_file(Path(p), shown, environ, variables) for p, shown in items]
    import multiprocessing  # only for many files

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    chunk = max(1, min(256, len(items) // (jobs * 8)))
    with context.Pool(jobs, initializer=_init, initargs=(dict(environ), variables)) as pool:
        return pool.map(_check, items, chunksize=chunk)


def _monorepo_rules(
    reports: list[FileReport], files: dict[str, Path], gpu_types: frozenset[str] | None
) -> None:
    """Flag every file after the first that claims a project name or a dag_id again, and GPU
    types the platform does not know (when it lists any)."""
    claims: dict[tuple[str, str], str] = {}
    for index, report in enumerate(reports):
        if not report.ok or report.project is None:
            continue
        extra: list[Diagnostic] = []
        wanted: list[tuple[str, str, KeyPath]] = [("project", report.project, ("project", "name"))]
        wanted += [("dag_id", d, ("offline", i, "dag_id")) for i, d in enumerate(report.dag_ids)]
        for kind, value, key_path in wanted:
            first = claims.setdefault((kind, value), report.path)
            if first != report.path:
                line, col = locate_key(files[report.path], report.path, key_path)
                extra.append(
                    Diagnostic(
                        report.path,
                        line,
                        col,
                        _scrub(report, key_path, f"{kind} {value!r} is already used by {first}"),
                        f"{kind.replace('_', ' ')}s are unique in the monorepo",
                        key_path=format_path(key_path),
                    )
                )
        for key_path, gpu in report.gpu_types:
            if gpu_types and gpu not in gpu_types:
                line, col = locate_key(files[report.path], report.path, key_path)
                known = ", ".join(sorted(gpu_types))
                extra.append(
                    Diagnostic(
                        report.path,
                        line,
                        col,
                        _scrub(
                            report, key_path, f"GPU type {gpu!r} is not in the platform's gpu_types"
                        ),
                        _scrub(
                            report, key_path, suggest(gpu, sorted(gpu_types)) or f"known: {known}"
                        ),
                        key_path=format_path(key_path),
                    )
                )
        if extra:
            reports[index] = replace(report, diagnostics=tuple(extra))


def _scrub(report: FileReport, key_path: KeyPath, text: str) -> str:
    return scrub(report.from_env, key_path, text)


def shown_path(path: Path, cwd: Path) -> str:
    try:
        return str(path.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(path)


def validate_files(
    files: Sequence[Path],
    environ: Mapping[str, str],
    *,
    cwd: Path,
    jobs: int | None = None,
    gpu_types: frozenset[str] | None = None,
    variables: Variables | None = None,
) -> Result:
    """Check ``files``; ``gpu_types`` (from the platform settings) enables the GPU type rule;
    ``variables`` is the ``${VAR}`` rule of the files' monorepo (default: looked up per file)."""
    shown = {shown_path(p, cwd): p for p in files}
    items = [(str(p), s) for s, p in shown.items()]
    jobs = default_jobs() if jobs is None else jobs
    reports = _check_all(items, environ, jobs, variables)
    _monorepo_rules(reports, shown, gpu_types)
    return Result(tuple(reports))
