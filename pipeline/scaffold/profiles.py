"""The notebook servers of the platform's JupyterHub as Zero to JupyterHub values.

:func:`render` fills ``deploy_templates/notebook-profiles/values.yaml.j2`` from the platform
settings (``notebook_profiles`` and the node placement of ``gpu_types``); :func:`check` reads the
text back and validates it against ``values.schema.json`` (KubeSpawner's ``profile_list`` keys);
:func:`pods` builds, for every size and GPU choice, the Pod and home volume claim KubeSpawner would
create, so they can be validated as Kubernetes objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from pipeline import resources
from pipeline.config.settings import GpuType, NotebookProfiles, PlatformSettings
from pipeline.errors import UserError
from pipeline.scaffold import template_folder

FOLDER = "notebook-profiles"
GPU_RESOURCE = "nvidia.com/gpu"
# GKE labels its GPU nodes with the accelerator; used for types without an entry in gpu_types.
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
SHARED = ("all", "users")
HOME = "/home/jovyan"
NO_GPU = "none"


@dataclass(frozen=True)
class Image:
    name: str
    tag: str


def split_image(ref: str) -> Image:
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        raise UserError(f"notebook_profiles.image {ref!r} has no tag", hint="write NAME:TAG")
    return Image(name, tag)


def placement(gpu: str, known: dict[str, GpuType]) -> dict[str, Any]:
    """Where pods with ``gpu`` land: the platform's gpu_types entry, or GKE's defaults."""
    spec = known.get(gpu)
    if spec is None:
        return {
            "node_selector": {ACCELERATOR_LABEL: gpu},
            "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        }
    tolerations = [{k: v for k, v in vars(t).items() if v is not None} for t in spec.tolerations]
    return {"node_selector": dict(spec.node_selector), "tolerations": tolerations}


def gpu_choices(profiles: NotebookProfiles, known: dict[str, GpuType]) -> dict[str, Any]:
    choices: dict[str, Any] = {
        NO_GPU: {"display_name": "No GPU", "default": True, "kubespawner_override": {}}
    }
    for gpu in profiles.gpu_types:
        for count in profiles.gpu_counts:
            override = {
                "extra_resource_limits": {GPU_RESOURCE: str(count)},
                "extra_resource_guarantees": {GPU_RESOURCE: str(count)},
                **placement(gpu, known),
            }
            noun = "GPU" if count == 1 else "GPUs"
            choices[f"{gpu}-{count}"] = {
                "display_name": f"{gpu} × {count} {noun}",
                "kubespawner_override": override,
            }
    return choices


def context(settings: PlatformSettings) -> dict[str, Any]:
    p = settings.notebook_profiles
    sizes = [
        {
            "display_name": f"CPU {s.cpu} cores / Memory {s.memory_gib} GiB",
            "slug": f"cpu-{s.cpu}-mem-{s.memory_gib}g",
            # KubeSpawner reads G as GiB (powers of 1024).
            "override": {
                "cpu_limit": s.cpu,
                "cpu_guarantee": s.cpu,
                "mem_limit": f"{s.memory_gib}G",
                "mem_guarantee": f"{s.memory_gib}G",
            },
        }
        for s in p.sizes
    ]
    disk = f"{p.disk_gib}Gi"
    return {
        "image": split_image(p.image),
        "disk": disk,
        "shared_claim": p.shared_claim,
        "shared_subpaths": SHARED,
        "sizes": sizes,
        "gpu_choices": gpu_choices(p, settings.gpu_types),
        "disk_default": {
            "display_name": f"{p.disk_gib} GiB",
            "kubespawner_override": {"storage_capacity": disk},
        },
        "disk_unlisted": {
            "enabled": True,
            "display_name": "Other size (GiB)",
            "validation_regex": "^[1-9][0-9]{0,4}$",
            "validation_message": "a whole number of GiB, e.g. 100",
            "kubespawner_override": {"storage_capacity": "{value}Gi"},
        },
        "cull_seconds": p.cull_idle_minutes * 60,
        "cull_every": 300,
    }


def render(settings: PlatformSettings) -> str:
    """The values file (YAML text)."""
    folder = resources.data_dir("deploy_templates") / FOLDER
    return template_folder.render_file(folder, "values.yaml.j2", context(settings))


def check(text: str) -> dict[str, Any]:
    """Parse the values again and validate them; every problem is reported at once."""
    import jsonschema

    values = yaml.safe_load(text)
    schema_path = resources.data_dir("deploy_templates") / FOLDER / "values.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.path)))
    if errors:
        lines = [f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors]
        raise UserError(
            "the notebook profiles do not validate:\n  " + "\n  ".join(lines),
            hint="check notebook_profiles in .somlier/platform.yaml",
        )
    checked: dict[str, Any] = values
    return checked


def _quantity(mem: str) -> str:
    return mem[:-1] + "Gi"  # KubeSpawner's 16G is Kubernetes' 16Gi


def pods(values: dict[str, Any]) -> list[dict[str, Any]]:
    """For each profile and GPU choice: the Pod and the home volume claim KubeSpawner makes."""
    single = values["singleuser"]
    image = f"{single['image']['name']}:{single['image']['tag']}"
    storage = single["storage"]
    docs: list[dict[str, Any]] = []
    for profile in single["profileList"]:
        disk = profile["profile_options"]["disk"]["choices"]["default"]["kubespawner_override"]
        for key, choice in profile["profile_options"]["gpu"]["choices"].items():
            o = {**profile["kubespawner_override"], **choice["kubespawner_override"]}
            name = f"jupyter-{profile['slug']}-{key}"
            limits = {"cpu": str(o["cpu_limit"]), "memory": _quantity(o["mem_limit"])}
            requests = {"cpu": str(o["cpu_guarantee"]), "memory": _quantity(o["mem_guarantee"])}
            limits.update(o.get("extra_resource_limits", {}))
            requests.update(o.get("extra_resource_guarantees", {}))
            mounts = [{"name": "home", "mountPath": storage["homeMountPath"]}]
            mounts += storage.get("extraVolumeMounts", [])
            spec: dict[str, Any] = {
                "containers": [
                    {
                        "name": "notebook",
                        "image": image,
                        "resources": {"limits": limits, "requests": requests},
                        "volumeMounts": mounts,
                    }
                ],
                "volumes": [
                    {"name": "home", "persistentVolumeClaim": {"claimName": f"claim-{name}"}},
                    *storage.get("extraVolumes", []),
                ],
            }
            if o.get("node_selector"):
                spec["nodeSelector"] = o["node_selector"]
            if o.get("tolerations"):
                spec["tolerations"] = o["tolerations"]
            docs.append(
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
            )
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": f"claim-{name}"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": disk["storage_capacity"]}},
                    },
                }
            )
    return docs


def check_pods(values: dict[str, Any], kubernetes_version: str) -> int:
    """Validate :func:`pods` with kubernetes-validate's strict schemas; return how many."""
    from pipeline.online import kube_validate

    docs = pods(values)
    kube_validate.validate_manifests(docs, kubernetes_version=kubernetes_version)
    return len(docs)


def summary(values: dict[str, Any], pod_count: int | None, path: str | None) -> dict[str, Any]:
    """The stable ``--json`` object."""
    single = values["singleuser"]
    first = single["profileList"][0]
    return {
        "path": path,
        "image": f"{single['image']['name']}:{single['image']['tag']}",
        "profiles": [p["slug"] for p in single["profileList"]],
        "gpu_choices": list(first["profile_options"]["gpu"]["choices"]),
        "disk": single["storage"]["capacity"],
        "cull_idle_minutes": values["cull"]["timeout"] // 60,
        "shared": [m["mountPath"] for m in single["storage"].get("extraVolumeMounts", [])],
        "pods_checked": pod_count,
    }
