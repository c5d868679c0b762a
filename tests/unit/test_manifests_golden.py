"""Golden serving manifests (Istio and a GPU: every template), byte for byte, then read back and
validated strictly. Set SOMLIER_UPDATE_GOLDEN=1 to rewrite tests/data/manifests/ after an
intended change (then read the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pipeline.config.model import Gpu, OnlineSpec, Replicas, Resources
from pipeline.config.settings import GpuType, PlatformSettings, Toleration
from pipeline.online import manifests, release
from pipeline.online.manifests import Manifest
from pipeline.online.request import DeployRequest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "manifests"
SETTINGS = PlatformSettings(
    gpu_types={
        "nvidia-tesla-t4": GpuType(
            node_selector=(("cloud.google.com/gke-accelerator", "nvidia-tesla-t4"),),
            tolerations=(Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),),
        )
    }
)
IMAGE = "europe-docker.pkg.dev/acme/ml/model-serving@sha256:" + "0123456789abcdef" * 4


def _rendered() -> list[Manifest]:
    spec = manifests.serving_spec(
        DeployRequest("iris-classifier", "3", env="prod", istio=True),
        online=OnlineSpec(
            resources=Resources(cpu="2", memory="4Gi"),
            gpu=Gpu(type="nvidia-tesla-t4"),
            replicas=Replicas(min=2, max=6),
        ),
        settings=SETTINGS,
        image=IMAGE,
    )
    record = release.release_record(spec.model_name, spec.env, [release.entry(spec, "deploy")])
    return manifests.render(spec, release=record)


@pytest.mark.parametrize("manifest", _rendered(), ids=lambda m: m.filename)
def test_manifest_matches_golden(manifest: Manifest) -> None:
    path = GOLDEN / manifest.filename
    if os.environ.get("SOMLIER_UPDATE_GOLDEN"):
        path.write_text(manifest.text, encoding="utf-8")
    golden = path.read_text(encoding="utf-8")
    assert manifest.text == golden
    [doc] = list(yaml.safe_load_all(golden))
    manifests.validate([Manifest(manifest.filename, golden, doc)], kubernetes_version="1.30")


def test_golden_folder_holds_exactly_the_rendered_files() -> None:
    assert sorted(p.name for p in GOLDEN.glob("*.yaml")) == sorted(m.filename for m in _rendered())
