"""``online train --k8s``: the Job template rendered, parsed again, validated strictly
(kubernetes-validate schemas), with GPU placement from the platform settings, and hostile values
that come back exactly as given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config.project import load_project
from pipeline.config.settings import GpuType, Kubernetes, PlatformSettings, Registry, Toleration
from pipeline.errors import UserError
from pipeline.online import train, train_job
from pipeline.online.checkout import Checkout
from pipeline.online.kube_validate import validate_manifests
from pipeline.online.tracking import Tracking
from tests.helpers.files import WriteTree

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SERVER = Tracking("http://mlflow.mlops.svc:5000", "settings")
SETTINGS = PlatformSettings(
    registry=Registry(url="registry.example:5000/ml", image_prefix="ml-"),
    kubernetes=Kubernetes(namespace="training", version="1.30"),
    gpu_types={
        "nvidia-tesla-t4": GpuType(
            node_selector=(("cloud.google.com/gke-accelerator", "nvidia-tesla-t4"),),
            tolerations=(Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),),
        )
    },
)
YAML = """\
project:
  name: churn-model
  docker: {name: churn, env: [{name: MODE, value: "a: b # not a comment"}]}
model: {name: churn-model, version: v1.0.0}
entrypoints:
  train: {command: python, args: [train.py, --rows, "100"]}
"""


def plan_for(tmp_path: Path, write_tree: WriteTree, params: list[str]) -> train.TrainPlan:
    write_tree(
        tmp_path, {"projects/churn/somlier.yaml": YAML, "projects/churn/requirements.txt": ""}
    )
    tree = Checkout(root=tmp_path, commit=COMMIT, ref="main", source="https://***@git.example/r")
    return train.prepare(tree, "projects/churn", "train", train.parse_params(params), {})


def container(job: train_job.RenderedJob) -> dict[str, Any]:
    spec: dict[str, Any] = job.document["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    first: dict[str, Any] = spec["containers"][0]
    return first


def test_one_valid_job_per_run_with_gpu_placement(tmp_path: Path, write_tree: WriteTree) -> None:
    plan = plan_for(tmp_path, write_tree, ["regularization=0.1,1"])
    options = train_job.JobOptions(cpu="2", memory="4Gi", gpu_type="nvidia-tesla-t4", num_of_gpus=2)
    jobs = train_job.render_jobs(
        plan, commit=COMMIT, settings=SETTINGS, tracking=SERVER, options=options
    )
    validate_manifests([j.document for j in jobs], kubernetes_version="1.30")
    assert [j.name for j in jobs] == ["churn-model-train-0123456-1", "churn-model-train-0123456-2"]
    first = jobs[0].document
    assert first["kind"] == "Job" and first["metadata"]["namespace"] == "training"
    assert first["spec"]["backoffLimit"] == 0
    pod = first["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    main = container(jobs[0])
    assert main["image"] == "registry.example:5000/ml/ml-churn:sha-0123456"
    assert main["command"] == ["python", "train.py", "--rows", "100", "--regularization", "0.1"]
    assert container(jobs[1])["command"][-1] == "1"
    assert main["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"memory": "4Gi", "nvidia.com/gpu": 2},
    }
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops.svc:5000"
    assert env["MLFLOW_EXPERIMENT_NAME"] == "churn-model"
    assert env["MODE"] == "a: b # not a comment"
    tags = yaml.safe_load(env["MLFLOW_RUN_CONTEXT"])
    assert tags["somlier.commit"] == COMMIT and tags["somlier.ref"] == "main"
    assert tags["somlier.project"] == "churn-model"
    # the whole stream parses back to the same documents
    assert list(yaml.safe_load_all(train_job.to_yaml(jobs))) == [j.document for j in jobs]


def test_no_gpu_no_resources_and_a_chosen_tag(tmp_path: Path, write_tree: WriteTree) -> None:
    plan = plan_for(tmp_path, write_tree, [])
    [job] = train_job.render_jobs(
        plan,
        commit=COMMIT,
        settings=PlatformSettings(),
        tracking=SERVER,
        options=train_job.JobOptions(image_tag="v1.2.0"),
    )
    validate_manifests([job.document], kubernetes_version="1.30")
    pod = job.document["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert "resources" not in container(job)
    assert container(job)["image"] == "churn:v1.2.0"


@pytest.mark.parametrize(
    "value",
    [
        'x"\n- evil: true',
        "{a: b}",
        "'quoted' \\ back\\slash",
        "null",
        "☃ \u2028 line",
        "--- # doc",
    ],
)
def test_hostile_param_values_come_back_exactly(
    value: str, tmp_path: Path, write_tree: WriteTree
) -> None:
    plan = plan_for(tmp_path, write_tree, [])
    plan = train.TrainPlan(plan.config, plan.entrypoint, [{"note": value}], plan.tags)
    [job] = train_job.render_jobs(
        plan, commit=COMMIT, settings=SETTINGS, tracking=SERVER, options=train_job.JobOptions()
    )
    assert container(job)["command"][-2:] == ["--note", value]
    [again] = yaml.safe_load_all(train_job.to_yaml([job]))
    assert again == job.document


def test_long_project_names_make_valid_job_names() -> None:
    name = train_job.job_name("a" * 63, COMMIT, 12)
    assert len(name) == 63 and name.endswith("-train-0123456-12")


@pytest.mark.parametrize(
    ("tracking", "options", "message"),
    [
        (Tracking("sqlite:////x/mlflow.db", "default"), {}, "cannot reach the local MLflow store"),
        (Tracking("https://u:pw@mlflow.example", "environment"), {}, "holds credentials"),
        (SERVER, {"gpu_type": "a100"}, "unknown GPU type 'a100'"),
        (SERVER, {"num_of_gpus": 2}, "--num_of_gpus needs --gpu_type"),
        (SERVER, {"cpu": "two"}, "--cpu 'two' is not a quantity"),
        (SERVER, {"memory": "4 GB"}, "--memory '4 GB' is not a quantity"),
    ],
)
def test_refusals(
    tracking: Tracking,
    options: dict[str, Any],
    message: str,
    tmp_path: Path,
    write_tree: WriteTree,
) -> None:
    plan = plan_for(tmp_path, write_tree, [])
    with pytest.raises(UserError, match=message) as caught:
        train_job.render_jobs(
            plan,
            commit=COMMIT,
            settings=SETTINGS,
            tracking=tracking,
            options=train_job.JobOptions(**options),
        )
    assert "pw" not in caught.value.message


def test_unknown_entrypoint_fails_before_rendering(tmp_path: Path, write_tree: WriteTree) -> None:
    write_tree(tmp_path, {"p/somlier.yaml": YAML, "p/requirements.txt": ""})
    tree = Checkout(root=tmp_path, commit=COMMIT, ref="main", source="x")
    with pytest.raises(UserError, match="no entrypoint 'fit'"):
        train.prepare(tree, "p", "fit", (), {})
    assert load_project(tmp_path / "p/somlier.yaml", {}).name == "churn-model"
