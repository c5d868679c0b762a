"""A small monorepo with one project whose four offline: jobs cover both templates, with and
without GPU; the golden DAG files in tests/data/dags/ are what it renders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from unittest import mock

import pytest

from pipeline.config.model import ProjectConfig
from pipeline.config.project import load_project
from pipeline.config.settings import PlatformSettings
from pipeline.config.settings_load import load_settings
from pipeline.offline import plan, spec

# croniter asks platform.architecture() when it is imported, and that runs `file` on the
# interpreter; import it once here with the answer given, so that no unit test starts a process.
with mock.patch("platform.architecture", return_value=("64bit", "ELF")):
    import croniter  # noqa: F401

WriteTree = Callable[[Path, Mapping[str, "str | bytes"]], Path]

SHOWN = "projects/churn-model/somlier.yaml"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

PLATFORM = """\
registry: {url: registry.example.com/ml, image_prefix: ml-}
mlflow: {tracking_uri: "http://mlflow.mlops.svc:5000"}
kubernetes: {namespace: batch}
airflow: {owner: data-group, timezone: Asia/Seoul, tags: [data-group]}
gpu_types:
  nvidia-tesla-t4:
    node_selector: {cloud.google.com/gke-accelerator: nvidia-tesla-t4}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
"""

PROJECT = """\
project:
  name: churn-model
  python: {version: "3.11", requirements_txt: requirements.txt}
  docker: {name: churn-model, tags: [stable, latest]}
model: {name: churn-classifier, version: v0.1.0}
entrypoints:
  main: {command: python, args: [main.py]}
  train: {command: python, args: [train.py]}
offline:
  - {dag_id: churn_daily, schedule: "0 9 * * *", entrypoint: main}
  - dag_id: churn_daily_gpu
    schedule: "30  2 * * 1-5"
    command: "run main --date '{{ ds }}' --note \\"it's \\\\ok\\""
    description: "Scores churn with \\"quotes\\", 한국어 and {% raw %}"
    owner: ml-team
    tags: [churn, gpu]
    retries: 1
    timezone: UTC
    start_date: "2024-06-01"
    catchup: true
    gpu: {type: nvidia-tesla-t4, count: 2}
    resources: {cpu: "2", memory: 8Gi}
  - {dag_id: churn_weekly_train, schedule: "@weekly", entrypoint: train, template: mlops}
  - dag_id: churn_train_gpu
    schedule: "None"
    entrypoint: train
    template: mlops
    gpu: {type: nvidia-tesla-t4}
"""


@pytest.fixture(autouse=True)
def _no_platform_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """SOMLIER__* variables of the machine must not change what the tests render."""
    import os

    for name in list(os.environ):
        if name.startswith("SOMLIER__"):
            monkeypatch.delenv(name)


@pytest.fixture
def monorepo(tmp_path: Path, write_tree: WriteTree) -> Path:
    return write_tree(
        tmp_path / "ml-projects",
        {
            ".somlier/platform.yaml": PLATFORM,
            "projects/churn-model/somlier.yaml": PROJECT,
            "projects/churn-model/requirements.txt": "",
        },
    )


@pytest.fixture
def loaded(monorepo: Path) -> tuple[ProjectConfig, PlatformSettings]:
    return load_project(monorepo / SHOWN, {}, SHOWN), load_settings(monorepo, {})


@pytest.fixture
def specs(loaded: tuple[ProjectConfig, PlatformSettings]) -> list[spec.DagSpec]:
    """The DagSpec of each job of the monorepo's project, as ``offline render`` builds them."""
    config, settings = loaded
    image = plan.image_for(config, settings)
    return [
        spec.from_project(config, i, settings, image=image, shown_path=SHOWN, commit=COMMIT)
        for i in range(len(config.offline))
    ]


@pytest.fixture
def commit() -> str:
    return COMMIT
