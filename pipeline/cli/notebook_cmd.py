"""``somlier notebook FILE [-o train.py]``: a notebook as a script that runs under ``python``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.cli.options import json_option


@click.command("notebook")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("train.py"),
    show_default=True,
    help="The script to write ('-': print it).",
)
@click.option("--force", is_flag=True, help="Overwrite the output file.")
@json_option
def notebook(file: Path, output: Path, force: bool, as_json: bool) -> None:
    """Convert notebook FILE into a Python script (jupytext, percent format).

    Markdown cells become comments; IPython magics (%pip, %%time) and shell escapes (!pip) are
    commented out, so the script runs under plain python. An existing output file is kept
    unless --force is given.
    """
    from pipeline.scaffold import notebook as scaffold

    converted = scaffold.convert(file)
    to_stdout = str(output) == "-"
    if not to_stdout:
        scaffold.write(converted, output, force=force)
    if as_json:
        body = {
            "notebook": str(file),
            "output": None if to_stdout else str(output),
            "code_cells": converted.code_cells,
            "commented_cells": converted.commented_cells,
        }
        click.echo(json.dumps(body, indent=2))
    elif to_stdout:
        click.echo(converted.script, nl=False)
    else:
        click.echo(f"{output} was created from {file} ({converted.code_cells} code cells)")
