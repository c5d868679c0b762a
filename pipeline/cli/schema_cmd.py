"""``somlier schema``: the JSON Schemas of somlier.yaml and the platform settings, for editors."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.cli.options import json_option, output_option, repo_option_with
from pipeline.errors import UserError


@click.command()
@click.argument("name", type=click.Choice(["somlier", "platform"]), default="somlier")
@click.option(
    "--write",
    is_flag=True,
    help="Write (or refresh) both schemas into the monorepo's .somlier/schemas/, where its "
    "somlier.yaml files and editor settings point.",
)
@output_option("Write the schema NAME to FILE instead of printing it.")
@repo_option_with("With --write: the monorepo [default: the one around the current folder].")
@click.option("--dry-run", is_flag=True, help="Say what --write or -o would write; write nothing.")
@json_option
def schema(
    name: str, write: bool, output: Path | None, repo: Path | None, dry_run: bool, as_json: bool
) -> None:
    """Print the JSON Schema NAME (somlier: somlier.yaml; platform: .somlier/platform.yaml).

    Editors complete and document somlier.yaml from the copy a monorepo keeps in
    .somlier/schemas/ (somlier new-monorepo lays it down); `somlier schema --write` refreshes it
    after somlier is upgraded, as `somlier validate` suggests when the copy differs.
    """
    from pipeline.scaffold import editor

    if write:
        root = _monorepo(repo or Path.cwd())
        paths = [root / editor.schema_path(n) for n in editor.NAMES]
        if not dry_run:
            paths = editor.write_schemas(root)
        if as_json:
            body = {"root": str(root), "written": [str(p) for p in paths], "dry_run": dry_run}
            click.echo(json.dumps(body, indent=2))
            return
        verb = "would write" if dry_run else "wrote"
        for path in paths:
            click.echo(f"{verb} {path.relative_to(root)}")
        return
    text = editor.schema_text(name)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    if not dry_run:
        output.write_text(text, encoding="utf-8")
    click.echo(f"{'would write' if dry_run else 'wrote'} {output}", err=True)


def _monorepo(start: Path) -> Path:
    from pipeline.config.location import platform_root

    start = start.resolve()
    root = platform_root(start) if start.is_dir() else None
    if root is None:
        raise UserError(
            f"{start} is not inside a monorepo",
            hint="run it in the monorepo (the folder with .somlier/platform.yaml), or pass -C DIR",
        )
    return root
