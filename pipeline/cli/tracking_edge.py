"""The MLflow store as the CLI sees it: platform settings and ``MLFLOW_TRACKING_URI`` are read
here, once, and handed to pipeline.online.tracking as plain values (no MLflow import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.tracking import Tracking


def tracking(base: Path, platform: PlatformSettings) -> Tracking:
    """MLFLOW_TRACKING_URI > settings mlflow.tracking_uri > .somlier/mlflow.db of the repo."""
    from pipeline.monorepo.discovery import repo_root
    from pipeline.online.tracking import resolve

    root = repo_root(base.resolve()) or base.resolve()
    return resolve(
        root=root,
        settings_uri=platform.mlflow.tracking_uri,
        env_uri=os.environ.get("MLFLOW_TRACKING_URI"),
    )


def local_run_environment(project_root: Path, project_name: str) -> dict[str, str]:
    """The store variables ``somlier config run`` gives an entrypoint (see
    pipeline.online.tracking.local_run_environment)."""
    from pipeline.cli.wiring import settings_at
    from pipeline.config.location import checkout_root
    from pipeline.online.tracking import DB_NAME, STORE_DIR, local_run_environment

    env_uri = os.environ.get("MLFLOW_TRACKING_URI")
    settings_uri = "" if env_uri else settings_at(project_root)[0].mlflow.tracking_uri
    # Without git: an image runs `somlier config run` in a folder with neither git nor a checkout.
    repo = None if env_uri or settings_uri else checkout_root(project_root.resolve())
    env = local_run_environment(
        env_uri=env_uri,
        settings_uri=settings_uri,
        repo=repo,
        experiment=None if os.environ.get("MLFLOW_EXPERIMENT_NAME") else project_name,
    )
    if env.get("MLFLOW_TRACKING_URI", "").endswith(f"/{STORE_DIR.as_posix()}/{DB_NAME}"):
        assert repo is not None
        (repo.resolve() / STORE_DIR).mkdir(exist_ok=True)  # SQLite makes the file, not its folder
    return env
