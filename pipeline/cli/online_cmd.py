"""``somlier online``: MLflow training and registry, and serving a registered model.

Each subcommand lives in its own module and is imported when used, so ``somlier online --help``
does not import MLflow or BentoML."""

from __future__ import annotations

import click

from pipeline.cli.lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "train": "pipeline.cli.online_train_cmd:train",
        "register": "pipeline.cli.online_register_cmd:register",
        "deploy": "pipeline.cli.online_deploy_cmd:deploy",
    },
)
def online() -> None:
    """Train with MLflow tracking, register models, and serve them (locally or on Kubernetes)."""
