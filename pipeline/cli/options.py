"""Options several commands share, defined once so they read and behave alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Any], Any]

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (stable; for scripts)."
)


def repo_option_with(help: str) -> Decorator:
    """``-C DIR`` / ``--repo DIR``, with the command's own ``help``."""
    return click.option(
        "-C",
        "--repo",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help=help,
    )


repo_option = repo_option_with(
    "Run as if started in DIR (like git -C): the repository, its platform settings and "
    "relative paths are found from there."
)


def gpu_options(type_help: str, count_help: str) -> Decorator:
    """``--gpu_type T`` and ``--num_of_gpus N`` (the original tool's spellings, with the
    dashed forms too), as ``gpu_type`` and ``num_of_gpus``."""
    gpu_type = click.option("--gpu_type", "--gpu-type", "gpu_type", metavar="T", help=type_help)
    count = click.option(
        "--num_of_gpus",
        "--num-of-gpus",
        "num_of_gpus",
        type=click.IntRange(min=1),
        metavar="N",
        help=count_help,
    )
    return lambda command: gpu_type(count(command))


def output_option(help: str) -> Decorator:
    """``-o FILE`` / ``--output FILE``: a file, never a folder."""
    return click.option(
        "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE", help=help
    )
