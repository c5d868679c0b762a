"""Many files at once: cross-file rules, serial and parallel runs, and the example projects."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import model
from pipeline.config.project import load_project
from pipeline.config.validation import PARALLEL_THRESHOLD, shown_path, validate_files
from pipeline.errors import ConfigError

WriteTree = Callable[[Path, dict[str, Any]], Path]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ml-projects" / "projects"


def project(name: str, *dag_ids: str, comment: str = "") -> str:
    text = f"{comment}project:\n  name: {name}\nmodel:\n  name: {name}\n  version: v0.0.1\n"
    text += "entrypoints:\n  main: {command: python, args: [main.py]}\n"
    if dag_ids:
        text += "offline:\n"
        for dag_id in dag_ids:
            text += f"  - dag_id: {dag_id}\n    schedule: '@daily'\n    entrypoint: main\n"
    return text


def tree(write_tree: WriteTree, root: Path, files: dict[str, str]) -> list[Path]:
    """Write each ``folder: somlier.yaml text`` with a requirements.txt; return the yaml paths."""
    content: dict[str, Any] = {}
    for folder, text in files.items():
        content[f"{folder}/somlier.yaml"] = text
        content[f"{folder}/requirements.txt"] = ""
    write_tree(root, content)
    return [root / folder / "somlier.yaml" for folder in files]


def test_valid_files_report_their_names(tmp_path: Path, write_tree: WriteTree) -> None:
    files = tree(
        write_tree, tmp_path, {"a": project("alpha", "a_daily", "a_hourly"), "b": project("beta")}
    )
    result = validate_files(files, {}, cwd=tmp_path, jobs=1)
    assert result.ok
    assert result.error_count == 0
    assert [(r.path, r.project, r.dag_ids) for r in result.reports] == [
        ("a/somlier.yaml", "alpha", ("a_daily", "a_hourly")),
        ("b/somlier.yaml", "beta", ()),
    ]


def test_duplicate_project_name_is_reported_on_the_second_file(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    files = tree(
        write_tree,
        tmp_path,
        {"first": project("same"), "second": project("same", comment="# a comment\n\n")},
    )
    result = validate_files(files, {}, cwd=tmp_path, jobs=1)
    first, second = result.reports
    assert first.ok
    assert not result.ok
    [diag] = second.diagnostics
    assert diag.path == "second/somlier.yaml"
    assert (diag.line, diag.col) == (4, 9)  # the value of project.name, after the comment
    assert diag.message == "project 'same' is already used by first/somlier.yaml"
    assert "unique" in diag.hint
    assert diag.format().startswith("second/somlier.yaml:4:9: error: project 'same'")


def test_duplicate_dag_id_is_reported_on_the_second_file(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    files = tree(
        write_tree,
        tmp_path,
        {"a": project("alpha", "shared_daily"), "b": project("beta", "b_own", "shared_daily")},
    )
    result = validate_files(files, {}, cwd=tmp_path, jobs=1)
    assert result.reports[0].ok
    [diag] = result.reports[1].diagnostics
    # project (2 lines), model (3), entrypoints (2), offline: then 3 lines per job.
    assert (diag.line, diag.col) == (12, 13)
    assert diag.message == "dag_id 'shared_daily' is already used by a/somlier.yaml"
    assert result.error_count == 1


def test_every_later_file_points_at_the_first(tmp_path: Path, write_tree: WriteTree) -> None:
    files = tree(
        write_tree,
        tmp_path,
        {
            "one": project("same", "job_x"),
            "two": project("same", "job_x"),
            "three": project("same"),
        },
    )
    result = validate_files(files, {}, cwd=tmp_path, jobs=1)
    messages = {r.path: [d.message for d in r.diagnostics] for r in result.reports}
    assert messages == {
        "one/somlier.yaml": [],
        "two/somlier.yaml": [
            "project 'same' is already used by one/somlier.yaml",
            "dag_id 'job_x' is already used by one/somlier.yaml",
        ],
        "three/somlier.yaml": ["project 'same' is already used by one/somlier.yaml"],
    }
    assert result.error_count == 3


def test_the_order_given_decides_which_file_is_second(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    a, b = tree(write_tree, tmp_path, {"a": project("same"), "b": project("same")})
    result = validate_files([b, a], {}, cwd=tmp_path, jobs=1)
    assert [r.path for r in result.reports if not r.ok] == ["a/somlier.yaml"]


def test_an_invalid_file_claims_no_names(tmp_path: Path, write_tree: WriteTree) -> None:
    broken = project("same").replace("v0.0.1", "0.0.1")
    files = tree(write_tree, tmp_path, {"a": broken, "b": project("same")})
    result = validate_files(files, {}, cwd=tmp_path, jobs=1)
    assert not result.reports[0].ok
    assert result.reports[1].ok


def test_a_file_given_twice_is_checked_once(tmp_path: Path, write_tree: WriteTree) -> None:
    [path] = tree(write_tree, tmp_path, {"a": project("alpha")})
    result = validate_files(
        [path, path, tmp_path / "a" / ".." / "a" / "somlier.yaml"], {}, cwd=tmp_path, jobs=1
    )
    assert [r.path for r in result.reports] == ["a/somlier.yaml"]
    assert result.ok


def test_duplicate_dag_id_inside_one_file(tmp_path: Path, write_tree: WriteTree) -> None:
    files = tree(write_tree, tmp_path, {"a": project("alpha", "same_dag", "same_dag")})
    result = validate_files(files, {}, cwd=tmp_path, jobs=1)
    assert not result.ok


def test_whole_numbers_written_as_floats_become_ints(tmp_path: Path, write_tree: WriteTree) -> None:
    text = project("alpha", "a_daily").replace(
        "entrypoint: main\n", "entrypoint: main\n    retries: 2.0\n"
    )
    [path] = tree(write_tree, tmp_path, {"a": text + "online: {port: 3000.0}\n"})
    config = load_project(path, {})
    assert type(config.offline[0].retries) is int
    assert type(config.online.port) is int


def test_shown_path(tmp_path: Path) -> None:
    assert shown_path(tmp_path / "x" / "somlier.yaml", tmp_path) == "x/somlier.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    assert shown_path(outside, tmp_path / "sub") == str(outside)


# --- serial and parallel --------------------------------------------------------------------


def _monorepo(write_tree: WriteTree, root: Path, count: int) -> list[Path]:
    files: dict[str, str] = {}
    for i in range(count):
        name = f"proj-{i:03d}"
        if i % 10 == 3:
            files[name] = project(f"proj-{i - 1:03d}", f"dag_{i:03d}")  # a duplicate name
        elif i % 10 == 5:
            files[name] = project(name, f"dag_{i - 1:03d}")  # dag_id of the project before
        elif i % 10 == 7:
            files[name] = project(name).replace("v0.0.1", "${UNSET_VERSION}")
        elif i % 10 == 9:
            files[name] = "project: [unclosed\n"
        else:
            files[name] = project(name, f"dag_{i:03d}")
    paths = tree(write_tree, root, files)
    (root / ".somlier").mkdir(exist_ok=True)
    (root / ".somlier" / "platform.yaml").write_text("interpolation: {allow: [UNSET_VERSION]}\n")
    return paths


def test_parallel_and_serial_give_identical_results(
    tmp_path: Path, write_tree: WriteTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _monorepo(write_tree, tmp_path, PARALLEL_THRESHOLD + 16)
    contexts: list[str | None] = []
    real = multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        contexts.append(method)
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", spy)
    serial = validate_files(files, {}, cwd=tmp_path, jobs=1)
    assert contexts == []
    parallel = validate_files(files, {}, cwd=tmp_path, jobs=2)
    assert contexts, "the worker pool was not used"
    assert parallel == serial
    assert [r.path for r in parallel.reports] == [
        f"proj-{i:03d}/somlier.yaml" for i in range(len(files))
    ]
    assert not serial.ok
    bad = {r.path.split("/")[0][-1] for r in serial.reports if not r.ok}
    assert bad == {"3", "5", "7", "9"}


def test_parallel_workers_see_the_environment(tmp_path: Path, write_tree: WriteTree) -> None:
    files = _monorepo(write_tree, tmp_path, PARALLEL_THRESHOLD + 1)
    environ = {"UNSET_VERSION": "v9.9.9"}
    serial = validate_files(files, environ, cwd=tmp_path, jobs=1)
    parallel = validate_files(files, environ, cwd=tmp_path, jobs=2)
    assert parallel == serial
    assert all(r.ok for r in parallel.reports if r.path.startswith("proj-007/"))


def test_few_files_are_checked_in_process(
    tmp_path: Path, write_tree: WriteTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _monorepo(write_tree, tmp_path, 5)
    monkeypatch.setattr(multiprocessing, "get_context", None)  # would raise
    assert len(validate_files(files, {}, cwd=tmp_path, jobs=8).reports) == 5


# --- the example projects -------------------------------------------------------------------


def test_the_examples_validate_together() -> None:
    files = sorted(EXAMPLES.glob("*/somlier.yaml"))
    result = validate_files(files, {}, cwd=EXAMPLES, jobs=1)
    assert result.ok, [d.format() for r in result.reports for d in r.diagnostics]
    assert [r.project for r in result.reports] == [
        "churn-model",
        "demand-forecast",
        "fraud-detector",
    ]


def _entry(name: str, *args: str) -> model.Entrypoint:
    return model.Entrypoint(name=name, command=("python",), args=args)


def test_load_churn_model() -> None:
    path = EXAMPLES / "churn-model" / "somlier.yaml"
    config = load_project(path, {})
    assert config == model.ProjectConfig(
        path=path,
        global_=model.GlobalSettings(env="dev", logging=model.Logging(format="json")),
        project=model.ProjectSpec(
            name="churn-model",
            python=model.PythonSpec(version="3.11", requirements_txt="requirements.txt"),
            docker=model.DockerSpec(name="churn-model", tags=("latest",)),
        ),
        model=model.ModelSpec(
            name="churn-model", version="v0.1.0", tags=("dev",), config={"threshold": 0.5}
        ),
        entrypoints={
            "main": _entry("main", "main.py"),
            "train": _entry("train", "train.py"),
            "test": _entry("test", "-m", "test"),
        },
    )
    assert config.name == "churn-model"
    assert config.root == path.parent
    assert config.requirements_path == path.parent / "requirements.txt"
    assert config.entrypoints["test"].argv == ("python", "-m", "test")
    assert config.offline == ()
    assert config.online == model.OnlineSpec()


def test_load_demand_forecast() -> None:
    path = EXAMPLES / "demand-forecast" / "somlier.yaml"
    config = load_project(path, {})
    assert config.global_ == model.GlobalSettings()
    assert config.project.docker == model.DockerSpec(name="demand-forecast", tags=("latest",))
    assert config.model.config == {
        "horizon_days": 14,
        "features": ["weekday", "holiday", "temperature"],
    }
    assert config.entrypoints == {
        "main": _entry("main", "main.py"),
        "train": _entry("train", "train.py", "--epochs", "3"),
    }
    assert config.offline == (
        model.OfflineJob(
            dag_id="demand_forecast_daily", schedule="0 9 * * *", entrypoint="main", retries=2
        ),
        model.OfflineJob(
            dag_id="demand_forecast_weekly_train",
            schedule="@weekly",
            entrypoint="train",
            template="mlops",
            gpu=model.Gpu(type="nvidia-tesla-t4", count=1),
            resources=model.Resources(cpu="4", memory="16Gi"),
        ),
    )
    assert config.offline[1].retries == 3


def test_load_fraud_detector() -> None:
    path = EXAMPLES / "fraud-detector" / "somlier.yaml"
    config = load_project(path, {"MODEL_STAGE": "prod"})
    assert config.global_.logging.format == "text"
    assert config.project.depends_on == ("libs/common/**",)
    assert config.project.docker.env == (
        model.EnvVar(name="LOG_LEVEL", value="info"),
        model.EnvVar(name="MODEL_STAGE", value="prod"),
    )
    assert config.model.assets == (
        model.Asset(
            provider="http",
            files=(
                model.AssetFile(
                    name="thresholds",
                    remote_uri="https://example.com/fraud/thresholds.json",
                    local_path="data/thresholds.json",
                ),
            ),
        ),
    )
    assert config.online == model.OnlineSpec(
        resources=model.Resources(cpu="500m", memory="1Gi"),
        replicas=model.Replicas(min=1, max=4),
        port=3000,
    )
    default = load_project(path, {})
    assert default.project.docker.env[1].value == "dev"


def test_the_model_is_frozen() -> None:
    config = load_project(EXAMPLES / "churn-model" / "somlier.yaml", {})
    with pytest.raises(AttributeError):
        config.project.name = "other"  # type: ignore[misc]


def test_load_project_raises_every_problem(tmp_path: Path, write_tree: WriteTree) -> None:
    text = project("Bad_Name").replace("v0.0.1", "0.0.1")
    [path] = tree(write_tree, tmp_path, {"p": text})
    with pytest.raises(ConfigError) as info:
        load_project(path, {}, shown="p/somlier.yaml")
    assert [(d.line, d.col) for d in info.value.diagnostics] == [(2, 9), (5, 12)]
    assert all(d.path == "p/somlier.yaml" for d in info.value.diagnostics)
