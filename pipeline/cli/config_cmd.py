"""``somlier config show`` and ``somlier config run``."""

from __future__ import annotations

import click


@click.group()
def config() -> None:
    """Show a project's settings or run one of its entrypoints."""
