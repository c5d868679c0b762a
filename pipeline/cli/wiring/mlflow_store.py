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
    from pipeline.cli.wiring import settings_at
    from pipeline.online.tracking import project_run_environment

    return project_run_environment(
        project_root,
        project_name,
        environ=os.environ,
        settings_uri=lambda: settings_at(project_root)[0].mlflow.tracking_uri,
    )
