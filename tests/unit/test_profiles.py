"""`somlier notebook-profiles`: Zero to JupyterHub values from the platform settings, read back
and validated (the values schema, and kubernetes-validate on the pods they describe)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.cli.main import main
from pipeline.config.settings_load import load_settings
from pipeline.errors import UserError
from pipeline.scaffold import profiles

PLATFORM = """\
kubernetes: {version: "1.30"}
gpu_types:
  nvidia-tesla-t4:
    node_selector: {pool: gpu-t4}
    tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]
notebook_profiles:
  image: registry.local:5000/notebooks/base:2024.1
  sizes: [{cpu: 2, memory_gib: 8}]
  gpu_types: [nvidia-tesla-t4, nvidia-l4]
  gpu_counts: [1]
  disk_gib: 20
  cull_idle_minutes: 45
  shared_claim: team-shared
"""


def write_platform(root: Path, text: str) -> Path:
    (root / ".somlier").mkdir(parents=True, exist_ok=True)
    (root / ".somlier" / "platform.yaml").write_text(text)
    return root


def rendered(root: Path | None) -> dict[str, object]:
    settings = load_settings(root, {})
    return profiles.check(profiles.render(settings))


def test_defaults_are_the_original_platforms_servers() -> None:
    values = rendered(None)
    single = values["singleuser"]

    def size(cpu: int, mem: str) -> dict[str, object]:
        return {"cpu_limit": cpu, "cpu_guarantee": cpu, "mem_limit": mem, "mem_guarantee": mem}

    assert [(p["slug"], p["kubespawner_override"]) for p in single["profileList"]] == [
        ("cpu-4-mem-16g", size(4, "16G")),
        ("cpu-8-mem-32g", size(8, "32G")),
    ]
    assert [p.get("default", False) for p in single["profileList"]] == [True, False]
    choices = single["profileList"][0]["profile_options"]["gpu"]["choices"]
    assert set(choices) == {"none"} | {
        f"nvidia-tesla-{t}-{n}" for t in ("p100", "v100", "t4") for n in (1, 2, 4)
    }
    assert choices["none"] == {
        "display_name": "No GPU",
        "default": True,
        "kubespawner_override": {},
    }
    v100 = choices["nvidia-tesla-v100-4"]["kubespawner_override"]
    assert v100["extra_resource_limits"] == {"nvidia.com/gpu": "4"}
    assert v100["node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-v100"}
    disk = single["profileList"][0]["profile_options"]["disk"]
    assert disk["choices"]["default"]["kubespawner_override"] == {"storage_capacity": "50Gi"}
    assert disk["unlisted_choice"]["kubespawner_override"] == {"storage_capacity": "{value}Gi"}
    assert single["storage"]["capacity"] == "50Gi"
    assert [(m["mountPath"], m["subPath"]) for m in single["storage"]["extraVolumeMounts"]] == [
        ("/home/jovyan/shared/all", "all"),
        ("/home/jovyan/shared/users", "users"),
    ]
    assert values["cull"] == {"enabled": True, "timeout": 30 * 60, "every": 300}


def test_settings_drive_sizes_gpus_placement_disk_culling_and_volumes(tmp_path: Path) -> None:
    values = rendered(write_platform(tmp_path, PLATFORM))
    single = values["singleuser"]
    assert single["image"] == {"name": "registry.local:5000/notebooks/base", "tag": "2024.1"}
    assert [p["slug"] for p in single["profileList"]] == ["cpu-2-mem-8g"]
    choices = single["profileList"][0]["profile_options"]["gpu"]["choices"]
    assert list(choices) == ["none", "nvidia-tesla-t4-1", "nvidia-l4-1"]
    t4 = choices["nvidia-tesla-t4-1"]["kubespawner_override"]
    # placement from the platform's gpu_types; GKE's accelerator label for a type not listed
    assert t4["node_selector"] == {"pool": "gpu-t4"}
    assert t4["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    ]
    assert choices["nvidia-l4-1"]["kubespawner_override"]["node_selector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-l4"
    }
    assert single["storage"]["capacity"] == "20Gi"
    assert (
        single["storage"]["extraVolumes"][0]["persistentVolumeClaim"]["claimName"] == "team-shared"
    )
    assert values["cull"]["timeout"] == 45 * 60


def test_every_pod_the_profiles_make_is_a_valid_kubernetes_object(tmp_path: Path) -> None:
    values = rendered(write_platform(tmp_path, PLATFORM))
    docs = profiles.pods(values)
    pods = [d for d in docs if d["kind"] == "Pod"]
    assert len(pods) == 3  # one size x (no GPU + two GPU types x one count)
    gpu_pod = next(p for p in pods if p["metadata"]["name"].endswith("nvidia-tesla-t4-1"))
    container = gpu_pod["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert gpu_pod["spec"]["nodeSelector"] == {"pool": "gpu-t4"}
    assert profiles.check_pods(values, "1.30") == 6


def test_a_broken_pod_is_reported_by_kubernetes_validate() -> None:
    values = rendered(None)
    values["singleuser"]["storage"]["extraVolumeMounts"][0]["mountPath"] = 42  # type: ignore[index]
    with pytest.raises(UserError, match="mountPath"):
        profiles.check_pods(values, "1.30")


def test_the_values_schema_catches_what_the_hub_would_ignore() -> None:
    text = profiles.render(load_settings(None, {}))
    values = yaml.safe_load(text)
    values["singleuser"]["profileList"][0]["kubespawner_overide"] = {}
    values["cull"]["timeout"] = "30m"
    with pytest.raises(UserError) as info:
        profiles.check(yaml.safe_dump(values))
    assert "kubespawner_overide" in info.value.message
    assert "cull.timeout" in info.value.message


@pytest.mark.parametrize(
    ("fragment", "where"),
    [
        ("notebook_profiles: {sizes: []}", "sizes"),
        ("notebook_profiles: {cull_idle_minutes: 0}", "cull_idle_minutes"),
        ("notebook_profiles: {image: no-tag}", "image"),
        ("notebook_profiles: {gpu_counts: [1, 1]}", "gpu_counts"),
        ("notebook_profiles: {disk: 10}", "disk"),
    ],
)
def test_bad_settings_are_user_errors_with_a_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fragment: str, where: str
) -> None:
    write_platform(tmp_path, fragment + "\n")
    assert main(["notebook-profiles", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "platform.yaml:1:" in err and where in err and "Traceback" not in err


def test_cli_prints_writes_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_platform(tmp_path, PLATFORM)
    assert main(["notebook-profiles", "-C", str(tmp_path)]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["singleuser"]["profileList"][0]["slug"] == "cpu-2-mem-8g"

    out = tmp_path / "values.yaml"
    assert main(["notebook-profiles", "-C", str(tmp_path), "-o", str(out), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body == {
        "path": str(out),
        "image": "registry.local:5000/notebooks/base:2024.1",
        "profiles": ["cpu-2-mem-8g"],
        "gpu_choices": ["none", "nvidia-tesla-t4-1", "nvidia-l4-1"],
        "disk": "20Gi",
        "cull_idle_minutes": 45,
        "shared": ["/home/jovyan/shared/all", "/home/jovyan/shared/users"],
        "pods_checked": 6,
    }
    assert yaml.safe_load(out.read_text()) == printed
    assert main(["notebook-profiles", "-C", str(tmp_path), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
