"""What a merge publishes (pipeline.gitops.projects), decided before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config.model import ProjectConfig
from pipeline.config.project import load_project
from pipeline.config.settings_load import load_settings
from pipeline.errors import StepFailed
from pipeline.gitops.projects import DagsTarget, Published, merged_groups, publish_merged
from pipeline.gitops.publication import Changes, PublishResult
from tests.helpers.files import WriteTree

SHOWN = "projects/churn-model/somlier.yaml"  # the project of the monorepo fixture
SHA = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def world(monorepo: Path, write_tree: WriteTree) -> Path:
    text = (monorepo / SHOWN).read_text(encoding="utf-8")
    write_tree(
        monorepo,
        {
            "projects/broken/somlier.yaml": text.replace("name: churn-model", "name: broken")
            .replace("dag_id: churn_", "dag_id: broken_")
            .replace('"@weekly"', '"0 25 * * *"'),
            "projects/broken/requirements.txt": "",
            "projects/nojobs/somlier.yaml": "project: {name: nojobs}\n"
            "model: {name: n, version: v1}\nentrypoints: {main: {command: python}}\n",
            "projects/nojobs/requirements.txt": "",
        },
    )
    return monorepo


def _configs(root: Path, *names: str) -> list[ProjectConfig]:
    return [
        load_project(root / f"projects/{n}/somlier.yaml", {}, f"projects/{n}/somlier.yaml")
        for n in names
    ]


def test_a_merge_publishes_built_projects_on_their_commit_image(world: Path) -> None:
    lines: list[str] = []
    groups = merged_groups(
        _configs(world, "churn-model", "broken", "nojobs"),
        sha=SHA,
        built={"churn-model", "broken"},
        deleted=["gone"],
        settings=load_settings(world, {}),
        log=lines.append,
    )
    # A deleted project and one without jobs lose their DAGs; a job in error keeps the
    # project's DAGs as they are (and says why).
    assert set(groups) == {"gone", "churn-model", "nojobs"}
    assert groups["gone"] == {} and groups["nojobs"] == {}
    assert sorted(groups["churn-model"]) == [
        "churn_daily",
        "churn_daily_gpu",
        "churn_train_gpu",
        "churn_weekly_train",
    ]
    assert all(":sha-89abcde" in source for source in groups["churn-model"].values())
    assert lines == ["broken: offline[2]: schedule '0 25 * * *' is not a valid cron expression"]


def test_a_project_whose_image_failed_publishes_nothing(world: Path) -> None:
    groups = merged_groups(
        _configs(world, "churn-model", "nojobs"),
        sha=SHA,
        built={"nojobs"},  # churn-model's image failed
        deleted=[],
        settings=load_settings(world, {}),
        log=lambda _line: None,
    )
    assert groups == {"nojobs": {}}


def test_nothing_to_publish_connects_nowhere(world: Path) -> None:
    def connect() -> DagsTarget:
        raise AssertionError("connected with nothing to publish")

    published = publish_merged(
        _configs(world, "churn-model"),
        sha=SHA,
        built=set(),
        deleted=[],
        settings=load_settings(world, {}),
        connect=connect,
        environ={},
        log=lambda _line: None,
    )
    assert published == Published()
    assert published.checked() == () and published.to_json() == []


def test_a_failed_project_fails_the_step_naming_it() -> None:
    ok = PublishResult(
        project="a", status="unchanged", branch="somlier/a", base="main", changes=Changes()
    )
    published = Published((ok,), failed=("b", "c"))
    assert published.to_json() == [ok.to_json()]
    with pytest.raises(StepFailed, match="publishing failed for b, c"):
        published.checked()
