"""Options several commands share, defined once so they read and behave alike."""

from __future__ import annotations

from pathlib import Path

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (stable; for scripts)."
)

repo_option = click.option(
    "-C",
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Run as if started in DIR (like git -C): the repository, its platform settings and "
    "relative paths are found from there.",
)
