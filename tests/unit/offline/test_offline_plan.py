"""plan_dags: the one DAG-planning function behind ``offline render``, the merge publish and
``/dag`` — its DAGs and errors per project, and which image the DAGs run."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from pipeline.config.model import ProjectConfig
from pipeline.config.project import load_project
from pipeline.config.settings import PlatformSettings
from pipeline.config.settings_load import load_settings
from pipeline.offline import plan
from tests.helpers.files import WriteTree

SHOWN = "projects/churn-model/somlier.yaml"  # the project of the monorepo fixture
SHA = "89abcdef0123456789abcdef0123456789abcdef"
OTHER = "projects/other/somlier.yaml"
BARE = "projects/bare/somlier.yaml"


@pytest.fixture
def world(
    monorepo: Path, write_tree: WriteTree
) -> tuple[list[ProjectConfig], PlatformSettings, Path]:
    """The churn project, a second project with a wrong schedule (its job 1) and an unknown
    GPU type (its job 3), and a project without jobs."""
    broken = (
        (monorepo / SHOWN)
        .read_text(encoding="utf-8")
        .replace("name: churn-model", "name: other")
        .replace("dag_id: churn_", "dag_id: other_")
        .replace('"30  2 * * 1-5"', '"99 2 * * *"')
        .replace("gpu: {type: nvidia-tesla-t4}", "gpu: {type: nvidia-h900}")
    )
    write_tree(
        monorepo,
        {
            OTHER: broken,
            "projects/other/requirements.txt": "",
            BARE: "project: {name: bare}\nmodel: {name: b, version: v1}\n"
            "entrypoints: {main: {command: python}}\n",
            "projects/bare/requirements.txt": "",
        },
    )
    configs = [load_project(monorepo / p, {}, p) for p in (SHOWN, OTHER, BARE)]
    return configs, load_settings(monorepo, {}), monorepo


def test_errors_stay_with_their_project(
    world: tuple[list[ProjectConfig], PlatformSettings, Path], tmp_path: Path
) -> None:
    configs, settings, _root = world
    result = plan.plan_dags(configs, settings, output_dir=tmp_path / "out")
    churn, other, bare = result.projects
    assert [p.name for p in result.projects] == ["churn-model", "other", "bare"]
    assert not result.ok
    assert churn.errors == () and len(churn.dags) == 4
    assert [(e.index, e.error.field) for e in other.errors] == [(1, "schedule"), (3, "gpu.type")]
    # The other jobs of the project in error are still planned.
    assert [d.spec.dag_id for d in other.dags] == ["other_daily", "other_weekly_train"]
    assert bare.dags == () and bare.errors == ()
    assert result.errors == other.errors
    assert [d.path for d in result.dags[:2]] == [
        tmp_path / "out" / "churn-model" / "churn_daily.py",
        tmp_path / "out" / "churn-model" / "churn_daily_gpu.py",
    ]
    for dag in result.dags:
        ast.parse(dag.source)  # rendered and checked, nothing written
        assert not dag.path.exists()
    # The diagnostics point at the line of the value at fault, as render prints them.
    where = plan.located(other.errors[0], OTHER)
    assert where.path == OTHER and where.line > 1
    assert "offline[1]: schedule '99 2 * * *'" in where.message


def test_files_by_project_is_what_a_publish_carries(
    world: tuple[list[ProjectConfig], PlatformSettings, Path], tmp_path: Path
) -> None:
    configs, settings, _root = world
    files = plan.plan_dags(configs, settings, output_dir=tmp_path).files_by_project()
    assert sorted(files["churn-model"]) == [
        "churn_daily",
        "churn_daily_gpu",
        "churn_train_gpu",
        "churn_weekly_train",
    ]
    assert files["bare"] == {}  # no jobs: publishing it removes its DAGs
    assert files["churn-model"]["churn_daily"].startswith("# ")


def test_image_tag_policy(
    world: tuple[list[ProjectConfig], PlatformSettings, Path], tmp_path: Path
) -> None:
    configs, settings, _root = world
    default = plan.plan_dags(configs[:1], settings, output_dir=tmp_path)
    assert {d.spec.image for d in default.dags} == {
        "registry.example.com/ml/ml-churn-model:stable"  # the project's first docker tag
    }
    built = plan.plan_dags(configs[:1], settings, output_dir=tmp_path, tag=plan.commit_tag(SHA))
    assert plan.commit_tag(SHA) == "sha-89abcde"
    assert {d.spec.image for d in built.dags} == {
        "registry.example.com/ml/ml-churn-model:sha-89abcde"
    }
    assert all("ml-churn-model:sha-89abcde" in d.source for d in built.dags)


def test_settings_per_project(
    world: tuple[list[ProjectConfig], PlatformSettings, Path], tmp_path: Path
) -> None:
    configs, settings, _root = world
    elsewhere = load_settings(None, {})  # the built-in settings: no GPU types, no prefix
    result = plan.plan_dags(
        configs[:1],
        lambda config: elsewhere if config.name == "churn-model" else settings,
        output_dir=tmp_path,
    )
    (churn,) = result.projects
    # The built-in settings know no GPU type and no MLflow: the same jobs are wrong there.
    assert {e.error.field for e in churn.errors} == {"gpu.type", "template"}
    assert plan.plan_dags(configs[:1], settings, output_dir=tmp_path).ok
    assert all("ml-churn-model" not in d.spec.image for d in churn.dags)


def test_header_and_commit(
    world: tuple[list[ProjectConfig], PlatformSettings, Path], tmp_path: Path
) -> None:
    configs, settings, _root = world
    result = plan.plan_dags(configs[:1], settings, output_dir=tmp_path, commit=SHA)
    for dag in result.dags:
        assert dag.spec.source.path == SHOWN  # from the repository top, wherever somlier runs
        assert SHA in dag.source


def test_to_json(world: tuple[list[ProjectConfig], PlatformSettings, Path], tmp_path: Path) -> None:
    configs, settings, root = world
    body = json.loads(json.dumps(plan.plan_dags(configs, settings, output_dir=tmp_path).to_json()))
    assert body["ok"] is False
    churn, other, bare = body["projects"]
    assert churn["project"] == "churn-model"
    assert churn["somlier_yaml"] == str(root / SHOWN)
    assert churn["dags"][0] == {
        "dag_id": "churn_daily",
        "template": "default",
        "schedule": "0 9 * * *",
        "image": "registry.example.com/ml/ml-churn-model:stable",
        "path": str(tmp_path / "churn-model" / "churn_daily.py"),
    }
    assert [(e["index"], e["field"]) for e in other["errors"]] == [(1, "schedule"), (3, "gpu.type")]
    assert all(e["message"] for e in other["errors"])
    assert bare == {
        "project": "bare",
        "somlier_yaml": str(root / BARE),
        "dags": [],
        "errors": [],
    }
