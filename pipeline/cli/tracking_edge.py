"""The MLflow store as the CLI sees it: platform settings and the process environment are read
here, once, and handed to pipeline.online.tracking, which knows where the store is (no MLflow
import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings
    from pipeline.online.tracking import Tracking


def settings(base: Path) -> PlatformSettings:
    """The platform settings of the monorepo around ``base``."""
    from pipeline.config.settings import load_settings
    from pipeline.monorepo.discovery import platform_root

    return load_settings(platform_root(base.resolve()), os.environ)


def tracking(base: Path, platform: PlatformSettings) -> Tracking:
    """MLFLOW_TRACKING_URI > settings mlflow.tracking_uri > .somlier/mlflow.db of the repo."""
    from pipeline.online.tracking import for_repo

    return for_repo(
        base,
        settings_uri=platform.mlflow.tracking_uri,
        env_uri=os.environ.get("MLFLOW_TRACKING_URI"),
    )


def local_run_environment(project_root: Path, project_name: str) -> dict[str, str]:
    """The store variables ``somlier config run`` gives an entrypoint (see
    pipeline.online.tracking.project_run_environment)."""
    from pipeline.online.tracking import project_run_environment

    return project_run_environment(
        project_root,
        project_name,
        environ=os.environ,
        settings_uri=lambda: settings(project_root).mlflow.tracking_uri,
    )
