"""DagSpec: values checked before anything is rendered; defaults from the platform settings."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from pipeline.config.model import Gpu, OfflineJob, ProjectConfig
from pipeline.config.settings import Airflow, GpuType, MLflow, PlatformSettings, Registry
from pipeline.errors import EXIT_USER_ERROR
from pipeline.offline import spec, values
from pipeline.offline.values import SpecError

MLFLOW = PlatformSettings(mlflow=MLflow(tracking_uri="http://mlflow:5000"))


def _job(**fields: object) -> spec.DagSpec:
    base: dict[str, object] = {"dag_id": "job", "schedule": "@daily", "entrypoint": "main"}
    job = OfflineJob(**{**base, **fields})  # type: ignore[arg-type]
    return spec.from_job(
        job, MLFLOW, image="img:1", project_name="proj", model_name="model", source=spec.Source()
    )


@pytest.mark.parametrize("dag_id", ["a", "grab_tutorial", "x9_", "a" * 200])
def test_good_dag_ids(dag_id: str) -> None:
    assert values.check_dag_id(dag_id) == dag_id


@pytest.mark.parametrize(
    "dag_id", ["", "Bad", "9lives", "_x", "has-dash", "a.b", "ok\n", "é", "a" * 201, "a b"]
)
def test_bad_dag_ids(dag_id: str) -> None:
    with pytest.raises(SpecError) as info:
        values.check_dag_id(dag_id)
    assert info.value.field == "dag_id" and info.value.exit_code == EXIT_USER_ERROR


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("@daily", "@daily"),
        ("@once", "@once"),
        ("@continuous", "@continuous"),
        ("None", None),
        ("0 9 * * *", "0 9 * * *"),
        ("  0   9 * *  mon-fri ", "0 9 * * mon-fri"),
        ("*/15 0-6 1,15 * *", "*/15 0-6 1,15 * *"),
    ],
)
def test_good_schedules(text: str, normal: str | None) -> None:
    assert values.parse_schedule(text) == normal


@pytest.mark.parametrize(
    "text",
    [
        "0 25 * * *",  # no hour 25
        "* * * *",  # four fields
        "0 9 * * * *",  # seconds: not Airflow's
        "@annually",  # croniter's, not an Airflow preset
        "@Daily",
        "daily",
        "none",
        "H 9 * * *",
        "0 0 31 2 *",  # 31 February: never fires
        "0 9 * * *; rm -rf /",
    ],
)
def test_bad_schedules(text: str) -> None:
    with pytest.raises(SpecError) as info:
        values.parse_schedule(text)
    assert info.value.field == "schedule"


def test_spec_wants_the_normal_schedule() -> None:
    good = _job()
    with pytest.raises(SpecError, match="normal form"):
        dataclasses.replace(good, schedule="0  9 * * *")
    with pytest.raises(SpecError, match="dag_id"):
        dataclasses.replace(good, dag_id="Bad-Id")
    with pytest.raises(SpecError, match="time zone"):
        dataclasses.replace(good, timezone="Mars/Olympus")
    with pytest.raises(SpecError, match="MLflow"):
        dataclasses.replace(good, template="mlops")
    with pytest.raises(SpecError, match="empty"):
        dataclasses.replace(good, command=())
    with pytest.raises(SpecError, match="GPU"):
        dataclasses.replace(good, num_of_gpus=1)


def test_platform_defaults_fill_what_the_job_leaves_unset() -> None:
    got = _job()
    airflow = Airflow()
    assert (got.owner, got.timezone, got.tags) == (airflow.owner, airflow.timezone, airflow.tags)
    assert got.start_date == datetime.date(2024, 1, 1) and got.catchup is False
    assert got.retries == OfflineJob(dag_id="x", schedule="@daily").retries
    assert got.namespace == PlatformSettings().kubernetes.namespace
    assert got.command == ("run", "main")
    assert got.mlflow is None


def test_job_values_win() -> None:
    got = _job(owner="me", timezone="UTC", tags=("a",), start_date="2023-02-28", catchup=True)
    assert (got.owner, got.timezone, got.tags) == ("me", "UTC", ("a",))
    assert got.start_date == datetime.date(2023, 2, 28) and got.catchup is True


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start_date": "2024-02-30"}, "start_date"),
        ({"timezone": "Asia/Nowhere"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"entrypoint": None, "command": "run 'main"}, "command"),
        ({"schedule": "every day"}, "schedule"),
    ],
)
def test_bad_job_values(fields: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as info:
        _job(**fields)
    assert info.value.field == field


def test_command_is_split_like_a_shell() -> None:
    got = _job(entrypoint=None, command="run main --day '2024-01-01 00:00'")
    assert got.command == ("run", "main", "--day", "2024-01-01 00:00")


def test_mlops_takes_the_platform_tracking_uri_and_the_model() -> None:
    got = _job(template="mlops")
    assert got.mlflow == spec.MLflowTarget(
        tracking_uri="http://mlflow:5000", model_name="model", model_alias="champion"
    )


def test_mlops_without_tracking_uri_is_refused() -> None:
    job = OfflineJob(dag_id="j", schedule="@daily", entrypoint="m", template="mlops")
    with pytest.raises(SpecError, match="tracking URI") as info:
        spec.from_job(
            job,
            PlatformSettings(),
            image="i",
            project_name="p",
            model_name="p",
            source=spec.Source(),
        )
    assert info.value.field == "template"


T4 = GpuType(node_selector=(("cloud.google.com/gke-accelerator", "nvidia-tesla-t4"),))


def test_gpu_comes_from_the_platform_map() -> None:
    settings = dataclasses.replace(MLFLOW, gpu_types={"nvidia-tesla-t4": T4})
    job = OfflineJob(dag_id="j", schedule="@daily", entrypoint="m", gpu=Gpu(type="nvidia-tesla-t4"))
    got = spec.from_job(
        job, settings, image="i", project_name="p", model_name="p", source=spec.Source()
    )
    assert (got.gpu_type, got.num_of_gpus, got.node_selector) == (
        "nvidia-tesla-t4",
        1,
        T4.node_selector,
    )
    unknown = dataclasses.replace(job, gpu=Gpu(type="nvidia-tesla-p100", count=2))
    with pytest.raises(SpecError, match="not in the platform's gpu_types") as info:
        spec.from_job(
            unknown, settings, image="i", project_name="p", model_name="p", source=spec.Source()
        )
    assert info.value.field == "gpu.type" and "nvidia-tesla-t4" in info.value.hint


def test_a_gpu_without_node_labels_is_refused_as_dags_check_would() -> None:
    """No gpu_types entry means no node selector: the rule of `dags check`, applied first."""
    with pytest.raises(SpecError, match="has no node selector") as info:
        _job(gpu=Gpu(type="nvidia-tesla-p100", count=2))
    assert info.value.field == "gpu.type"
    assert "nvidia-tesla-p100" in info.value.hint and "gpu_types" in info.value.hint


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("main", 'write "run main": a batch job runs'),
        ("python main.py", 'write "run NAME [ARGS…]", e.g. "run main": a batch job runs'),
        ("run", 'write "run NAME [ARGS…]"'),
        ("run --fast", 'write "run NAME [ARGS…]"'),
        ("show", 'write "run show"'),
    ],
)
def test_a_command_the_pod_cannot_run_is_refused(command: str, hint: str) -> None:
    """The pod runs `somlier config COMMAND`: anything but `run NAME …` would fail there."""
    with pytest.raises(SpecError, match="is not 'run NAME") as info:
        _job(entrypoint=None, command=command)
    assert info.value.field == "command" and hint in info.value.hint
    assert f"somlier config {command}" in info.value.message


@pytest.mark.parametrize("command", ["run main", "run main --date '{{ ds }}'", "run serve.local"])
def test_run_name_and_its_arguments_are_the_pod_s_args(command: str) -> None:
    assert _job(entrypoint=None, command=command).command[:2] == ("run", command.split()[1])


def test_from_project_names_its_source(loaded: tuple[ProjectConfig, PlatformSettings]) -> None:
    config, settings = loaded
    got = spec.from_project(config, 2, settings, image="i:1", commit="abc1234")
    assert got.source == spec.Source(
        project="churn-model", path=str(config.path), job=2, commit="abc1234"
    )
    assert got.project_name == "churn-model"
    assert got.mlflow is not None and got.mlflow.model_name == "churn-classifier"


@pytest.mark.parametrize(
    ("image", "prefix", "project"),
    [
        ("gcr.io/socar-data-dev/ml-my-example-project:latest", "ml-", "my-example-project"),
        ("gcr.io/socar-data-dev/ml-my-example-project:latest", "", "ml-my-example-project"),
        ("localhost:5000/churn@sha256:" + "a" * 64, "ml-", "churn"),
        ("churn", "", "churn"),
    ],
)
def test_project_from_image(image: str, prefix: str, project: str) -> None:
    assert values.project_from_image(image, prefix) == project


@pytest.mark.parametrize(
    "image", ["", "gcr.io/x/Upper:1", "img:la test", "img\n", "a'b", "img:tag:tag", "/x"]
)
def test_bad_images(image: str) -> None:
    with pytest.raises(SpecError) as info:
        values.check_image(image)
    assert info.value.field == "image"


def test_from_create_like_the_original_tool() -> None:
    settings = PlatformSettings(registry=Registry(image_prefix="ml-"))
    got = spec.from_create(
        image="gcr.io/socar-data-dev/ml-my-example-project:latest",
        schedule="0 9 * * *",
        command="run main",
        dag_id="grab_tutorial",
        template="default",
        settings=settings,
    )
    assert got.project_name == "my-example-project"
    assert got.command == ("run", "main") and got.schedule == "0 9 * * *"
    assert got.source == spec.Source()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_of_gpus": 2}, "gpu"),
        ({"template": "fancy"}, "template"),
        ({"project_name": "Not_A_Label"}, "project_name"),
        ({"image": "gcr.io/x/my_image_:1"}, "image"),
        ({"image": "gcr.io/x/under_score:1"}, "project_name"),
    ],
)
def test_from_create_refuses(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "image": "img:1",
        "schedule": "@daily",
        "command": "run main",
        "dag_id": "d",
        "template": "default",
        "settings": PlatformSettings(),
        **kwargs,
    }
    with pytest.raises(SpecError) as info:
        spec.from_create(**args)  # type: ignore[arg-type]
    assert info.value.field == field
