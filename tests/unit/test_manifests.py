"""The serving manifests: rendered, parsed back, validated with kubernetes-validate --strict."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from pipeline.config.model import Gpu, OnlineSpec, Replicas, Resources
from pipeline.config.settings import GpuType, Kubernetes, PlatformSettings, Toleration
from pipeline.errors import UserError
from pipeline.online import kube_validate, manifests
from pipeline.online.kube_validate import ManifestError
from pipeline.online.manifests import Manifest, ServingSpec
from pipeline.online.request import DeployRequest

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example.com/ml/model-serving@{DIGEST}"
GPU_SETTINGS = PlatformSettings(
    gpu_types={
        "nvidia-tesla-t4": GpuType(
            node_selector=(("cloud.google.com/gke-accelerator", "nvidia-tesla-t4"),),
            tolerations=(Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),),
        )
    }
)


def spec_for(
    request: DeployRequest,
    online: OnlineSpec | None = None,
    settings: PlatformSettings | None = None,
) -> ServingSpec:
    return manifests.serving_spec(
        request, online=online or OnlineSpec(), settings=settings or PlatformSettings(), image=IMAGE
    )


def build(spec: ServingSpec, version: str = "1.30") -> dict[str, dict[str, Any]]:
    made = manifests.build(spec, release={"history": []}, kubernetes_version=version)
    return {m.kind: m.document for m in made}


def test_default_manifests_are_strictly_valid_and_consistent() -> None:
    docs = build(spec_for(DeployRequest("iris-classifier", "3")))
    assert set(docs) == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
    }
    deployment = docs["Deployment"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == IMAGE  # by digest, never a tag
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    labels = deployment["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "iris-classifier"
    assert labels["app.kubernetes.io/instance"] == "iris-classifier-dev"
    assert labels["app.kubernetes.io/version"] == "3"
    assert labels["app.kubernetes.io/managed-by"] == "somlier"
    assert labels["app.kubernetes.io/component"] == "model-server"
    assert labels["app.kubernetes.io/part-of"] == "somlier"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert docs["Service"]["spec"]["selector"] == selector
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)
    names = {d["metadata"]["name"] for k, d in docs.items() if k != "ConfigMap"}
    assert names == {"iris-classifier-dev"}
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"mlops"}


@pytest.mark.parametrize("version", kube_validate.supported_versions())
def test_manifests_validate_for_every_supported_kubernetes_version(version: str) -> None:
    build(spec_for(DeployRequest("m", "1", istio=True, gpu=True), settings=GPU_SETTINGS), version)


def test_istio_adds_a_virtual_service_routing_to_the_service() -> None:
    docs = build(spec_for(DeployRequest("iris", "2", env="prod", istio=True)))
    vs = docs["VirtualService"]
    assert vs["apiVersion"] == "networking.istio.io/v1"
    host = "iris-prod.mlops.svc.cluster.local"
    assert vs["spec"]["hosts"] == [host]
    route = vs["spec"]["http"][0]["route"][0]["destination"]
    assert route == {"host": host, "port": {"number": docs["Service"]["spec"]["ports"][0]["port"]}}


def test_the_virtual_service_schema_rejects_unknown_fields() -> None:
    made = manifests.render(spec_for(DeployRequest("m", "1", istio=True)), release={})
    vs = next(m.document for m in made if m.kind == "VirtualService")
    bad = copy.deepcopy(vs)
    bad["spec"]["http"][0]["route"][0]["destination"]["prot"] = 80
    with pytest.raises(ManifestError) as caught:
        manifests.validate([Manifest("virtualservice.yaml", "", bad)], kubernetes_version="1.30")
    [problem] = caught.value.problems
    assert (problem.kind, problem.name) == ("VirtualService", "m-dev")
    assert problem.path == "spec.http[0].route[0].destination"
    assert "prot" in problem.message


def test_gpu_from_the_project_lands_on_gpu_nodes() -> None:
    online = OnlineSpec(gpu=Gpu(type="nvidia-tesla-t4", count=2))
    pod = build(spec_for(DeployRequest("m", "1"), online, GPU_SETTINGS))["Deployment"]["spec"][
        "template"
    ]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_gpu_flag_uses_the_only_configured_gpu_type() -> None:
    spec = spec_for(DeployRequest("m", "1", gpu=True), settings=GPU_SETTINGS)
    assert spec.gpu_count == 1
    assert dict(spec.node_selector) == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}


def test_no_gpu_without_the_flag_or_the_project_asking() -> None:
    pod = build(spec_for(DeployRequest("m", "1"), settings=GPU_SETTINGS))["Deployment"]
    spec = pod["spec"]["template"]["spec"]
    assert "nodeSelector" not in spec and "tolerations" not in spec
    assert "nvidia.com/gpu" not in spec["containers"][0]["resources"]["limits"]


@pytest.mark.parametrize(
    ("request_", "online", "settings", "message"),
    [
        (DeployRequest("m", "1", gpu=True), OnlineSpec(), PlatformSettings(), "--gpu needs"),
        (
            DeployRequest("m", "1"),
            OnlineSpec(gpu=Gpu(type="nvidia-a100")),
            GPU_SETTINGS,
            "GPU type 'nvidia-a100' is not in the platform's gpu_types",
        ),
        (
            DeployRequest("m", "1"),
            OnlineSpec(replicas=Replicas(min=4, max=2)),
            PlatformSettings(),
            "online.replicas.max (2) is below online.replicas.min (4)",
        ),
        (
            DeployRequest("m", "1"),
            OnlineSpec(resources=Resources(cpu="two cores")),
            PlatformSettings(),
            "online.resources.cpu 'two cores' is not a Kubernetes quantity",
        ),
    ],
)
def test_bad_serving_settings_are_user_errors(
    request_: DeployRequest, online: OnlineSpec, settings: PlatformSettings, message: str
) -> None:
    with pytest.raises(UserError) as caught:
        manifests.serving_spec(request_, online=online, settings=settings, image=IMAGE)
    assert message in caught.value.message


def test_values_cannot_change_the_documents_structure() -> None:
    # The namespace comes from settings; whatever it holds stays one string value.
    hostile = 'ns"\nkind: Secret\n# '
    settings = PlatformSettings(kubernetes=Kubernetes(namespace=hostile))
    made = manifests.render(spec_for(DeployRequest("m", "1"), settings=settings), release={})
    for m in made:
        [doc] = list(yaml.safe_load_all(m.text))
        assert doc["metadata"]["namespace"] == hostile
        assert doc["kind"] != "Secret"


def test_model_names_become_dns_labels() -> None:
    docs = build(spec_for(DeployRequest("1st_Model.v2", "1", env="prod")))
    assert docs["Deployment"]["metadata"]["name"] == "m-1st-model-v2-prod"
    assert docs["Deployment"]["metadata"]["annotations"]["somlier.dev/model"] == "1st_Model.v2"
    long = "a" * 63
    name = build(spec_for(DeployRequest(long, "1", env="prod")))["Service"]["metadata"]["name"]
    assert len(name) <= 63 and name.endswith("-prod")


def test_the_release_record_round_trips_through_the_config_map() -> None:
    spec = spec_for(DeployRequest("m", "7", istio=True), settings=GPU_SETTINGS)
    record: dict[str, Any] = {
        "model": "m",
        "env": "dev",
        "history": [{"spec": spec.to_json(), "version": "7"}],
    }
    made = manifests.render(spec, release=record)
    config_map = next(m.document for m in made if m.kind == "ConfigMap")
    assert json.loads(config_map["data"]["release.json"]) == record
    assert ServingSpec.from_json(record["history"][0]["spec"]) == spec


def test_every_problem_is_listed_with_kind_name_and_path() -> None:
    made = manifests.render(spec_for(DeployRequest("m", "1")), release={})
    deployment = copy.deepcopy(next(m.document for m in made if m.kind == "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolcy"] = "Always"
    container["ports"][0]["containerPort"] = "http"
    service = copy.deepcopy(next(m.document for m in made if m.kind == "Service"))
    del service["spec"]["ports"][0]["port"]
    with pytest.raises(ManifestError) as caught:
        kube_validate.validate_manifests([deployment, service], kubernetes_version="1.30")
    found = {(p.kind, p.name, p.path) for p in caught.value.problems}
    assert found == {
        ("Deployment", "m-dev", "spec.template.spec.containers[0]"),
        ("Deployment", "m-dev", "spec.template.spec.containers[0].ports[0].containerPort"),
        ("Service", "m-dev", "spec.ports[0]"),
    }
    assert caught.value.exit_code == 2
    assert "Deployment/m-dev: spec.template.spec.containers[0]" in caught.value.render()


def test_a_kind_without_a_schema_is_an_error_not_a_pass() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(ManifestError) as caught:
        kube_validate.validate_manifests([doc, "text"], kubernetes_version="1.30")  # type: ignore[list-item]
    messages = [p.format() for p in caught.value.problems]
    assert messages == [
        "Widget/w: no schema for kind Widget with apiVersion example.com/v1 in Kubernetes 1.30",
        "<document>/#2: is not a mapping (an object)",
    ]


@pytest.mark.parametrize("version", ["1.24", "1.99", "latest", "", "2.0"])
def test_unsupported_kubernetes_versions_say_which_are(version: str) -> None:
    with pytest.raises(UserError) as caught:
        kube_validate.validate_manifests([], kubernetes_version=version)
    supported = kube_validate.supported_versions()
    assert f"{supported[0]} to {supported[-1]}" in caught.value.message
    assert "kubernetes.version" in caught.value.hint


@pytest.mark.parametrize(
    ("given", "used"), [("1.30", "1.30"), ("v1.31", "1.31"), ("1.32.4", "1.32")]
)
def test_version_spellings(given: str, used: str) -> None:
    assert kube_validate.check_version(given) == used
    assert "1.25" in kube_validate.supported_versions()
    assert "1.37" in kube_validate.supported_versions()
