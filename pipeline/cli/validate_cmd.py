"""``somlier validate [PATH…]``."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli import output
from pipeline.cli.options import json_option
from pipeline.config import location
from pipeline.config.project import FileReport
from pipeline.config.validation import Result, shown_path, validate_files
from pipeline.errors import EXIT_OK, EXIT_USER_ERROR, ConfigError, UserError
from pipeline.monorepo import discovery

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.config.variables import Variables


def _platform(
    start: Path, cwd: Path
) -> tuple[FileReport | None, PlatformSettings | None, Variables]:
    """Validate the platform settings of the monorepo around ``start``, if it has any; return
    the report (None when there is no file), the settings (None when there is no valid file)
    and their ``${VAR}`` rule."""
    from pipeline.config import settings, settings_load, variables, variables_load

    root = location.platform_root(start)
    if root is None:
        return None, None, variables_load.for_root(None, os.environ)
    path = root / settings.FILENAME
    shown = shown_path(path, cwd)
    try:
        loaded = settings_load.load_settings(root, os.environ)
    except ConfigError as exc:
        # The strictest rule (nothing allowed) while the settings are broken.
        return (
            FileReport(shown, tuple(exc.diagnostics)),
            None,
            variables.from_settings(settings.PlatformSettings()),
        )
    return FileReport(shown), loaded, variables.from_settings(loaded)


def _offline_jobs(
    result: Result,
    files: list[Path],
    cwd: Path,
    settings: PlatformSettings | None,
    rule: Variables,
) -> Result:
    """The checks ``offline render`` applies to each valid file's offline: jobs (its code:
    :func:`pipeline.offline.plan.check_jobs`), with the platform settings render would use (the
    built-in ones outside a monorepo); a finding already reported at the same place (an
    unknown GPU type) is not repeated."""
    by_shown = {shown_path(p, cwd): p for p in files}
    reports = list(result.reports)
    for index, report in enumerate(reports):
        if report.project is None or not report.dag_ids:
            continue
        from pipeline.config.project import load_project
        from pipeline.config.settings_load import load_settings
        from pipeline.offline.plan import check_jobs

        settings = settings or load_settings(None, os.environ)
        config = load_project(by_shown[report.path], os.environ, report.path, rule)
        seen = {(d.line, d.col) for d in report.diagnostics}
        found = check_jobs(config, settings, report.path)
        extra = [d for d in found if (d.line, d.col) not in seen]
        if extra:
            merged = sorted((*report.diagnostics, *extra), key=lambda d: (d.line, d.col))
            reports[index] = replace(report, diagnostics=tuple(merged))
    return Result(tuple(reports))


def _note_stale_schemas(start: Path) -> None:
    """Say (on stderr, whatever the format) when the monorepo's editor schemas are not the
    installed somlier's."""
    root = location.platform_root(start)
    if root is None:
        return
    from pipeline.scaffold.editor import stale_copy

    note = stale_copy(root)
    if note is not None:
        click.echo(note, err=True)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@json_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github: GitHub Actions ::error annotations.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes [default: CPUs].")
def validate(paths: tuple[Path, ...], as_json: bool, fmt: str, jobs: int | None) -> int:
    """Validate somlier.yaml files.

    PATHS are files or folders (folders are searched). Without PATHS: every project of the git
    repository around the current folder (git ls-files), or of the current folder outside git.
    The repository's .somlier/platform.yaml, when present, is validated too, and GPU types are
    checked against its gpu_types. Exit 0 when every file is valid, 2 otherwise.
    """
    cwd = Path.cwd()
    files = discovery.expand(list(paths)) if paths else discovery.default_projects(cwd)
    if not files:
        where = ", ".join(map(str, paths)) or str(cwd)
        raise UserError(f"no somlier.yaml found in {where}", hint="pass a file or a project folder")
    first = paths[0].resolve() if paths else cwd
    start = first if first.is_dir() else first.parent
    platform_report, settings, rule = _platform(start, cwd)
    gpu_types = frozenset(settings.gpu_types) if settings is not None else frozenset()
    result = validate_files(
        files, os.environ, cwd=cwd, jobs=jobs, gpu_types=gpu_types or None, variables=rule
    )
    if platform_report is None or platform_report.ok:
        result = _offline_jobs(result, files, cwd, settings, rule)
    if platform_report is not None:
        result = Result((platform_report, *result.reports))
    if as_json:
        click.echo(json.dumps(output.validation_json(result), indent=2))
    else:
        for report in result.reports:
            for diag in report.diagnostics:
                click.echo(output.github_annotation(diag) if fmt == "github" else diag.format())
        click.echo(output.validation_summary(result), err=True)
    _note_stale_schemas(start)
    return EXIT_OK if result.ok else EXIT_USER_ERROR
