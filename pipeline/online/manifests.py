"""The serving manifests of one model version: rendered from ``deploy_templates/serving/``,
parsed back, and validated strictly before anything is written or pushed.

Pure: :func:`serving_spec` turns a deploy request, the project's ``online:`` section and the
platform settings into a :class:`ServingSpec`; :func:`render` turns a spec into
:class:`Manifest` files. Every value enters the YAML JSON-quoted (JSON is YAML), so no model
name, quantity or label can change the documents' structure.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from pipeline import resources
from pipeline.config.model import OnlineSpec
from pipeline.config.settings import PlatformSettings
from pipeline.errors import StepFailed, UserError
from pipeline.online import kube_validate
from pipeline.online.model_names import model_key
from pipeline.online.request import DeployRequest
from pipeline.render import Quoted, yaml_scalar
from pipeline.render import render as render_template

FOLDER = "deploy_templates/serving"
# Kubernetes resource quantities (what the API server accepts for cpu, memory).
_QUANTITY = re.compile(r"\A[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|e[0-9]+)?\Z")
_DIGEST_REF = re.compile(r"\A[^\s@]+@sha256:[0-9a-f]{64}\Z")
DEFAULT_CPU = "500m"
DEFAULT_MEMORY = "1Gi"
CPU_TARGET = 70  # % of the CPU request the autoscaler aims at
ISTIO_SCHEMA = "virtualservice.schema.json"


@dataclass(frozen=True, kw_only=True)
class ServingSpec:
    """Everything the manifests depend on; stored in the release record so a rollback renders
    exactly what ran before."""

    model_name: str
    model_version: str
    env: str
    image: str  # registry/repository@sha256:… (a tag only in a dry run before the build)
    namespace: str
    port: int = 3000
    cpu: str = DEFAULT_CPU
    memory: str = DEFAULT_MEMORY
    gpu_count: int = 0
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[dict[str, str], ...] = ()
    min_replicas: int = 1
    max_replicas: int = 3
    istio: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["node_selector"] = dict(self.node_selector)
        data["tolerations"] = [dict(t) for t in self.tolerations]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServingSpec:
        raw = dict(data)
        raw["node_selector"] = tuple(sorted(dict(raw.get("node_selector") or {}).items()))
        raw["tolerations"] = tuple(dict(t) for t in raw.get("tolerations") or ())
        try:
            return cls(**raw)
        except TypeError as exc:
            raise UserError(f"the release record holds an unreadable serving spec: {exc}") from None

    @property
    def pinned(self) -> bool:
        return bool(_DIGEST_REF.match(self.image))


@dataclass(frozen=True)
class Manifest:
    """One file of the deploy repository: its name, its text, and the document parsed back."""

    filename: str
    text: str
    document: dict[str, Any] = field(compare=False, repr=False)

    @property
    def kind(self) -> str:
        return str(self.document.get("kind", ""))


def dns_label(text: str, limit: int = 63) -> str:
    """A DNS-1035 label made from a model name (lower-case, '-' for '.' and '_', a letter
    first), cut to ``limit`` with a short hash when it had to be cut."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "model"
    if not label[0].isalpha():
        label = f"m-{label}"
    if len(label) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:6]
        label = f"{label[: limit - 7].rstrip('-')}-{digest}"
    return label


def model_label(model_name: str, limit: int = 63) -> str:
    """The DNS label of a model: made from its canonical name (:func:`names.model_key`), so
    every spelling of one name gets the same objects, folder and branch."""
    return dns_label(model_key(model_name), limit)


def object_name(model_name: str, env: str) -> str:
    """``<model>-<env>``: dev and prod of one model may share a namespace."""
    return f"{model_label(model_name, 62 - len(env))}-{env}"


def _check_quantity(what: str, value: str) -> str:
    if not _QUANTITY.match(value):
        raise UserError(
            f"online.resources.{what} {value!r} is not a Kubernetes quantity",
            hint="e.g. cpu: 500m or 2, memory: 512Mi or 4Gi",
        )
    return value


def serving_spec(
    request: DeployRequest,
    *,
    online: OnlineSpec,
    settings: PlatformSettings,
    image: str,
) -> ServingSpec:
    """The spec of ``request`` with the project's serving defaults and the platform's GPU
    types. ``--gpu`` without ``online.gpu`` uses the one configured GPU type, if there is one."""
    gpu_type: str | None = online.gpu.type if online.gpu else None
    gpu_count = online.gpu.count if online.gpu else 0
    if request.gpu and gpu_type is None:
        known = sorted(settings.gpu_types)
        if len(known) != 1:
            raise UserError(
                "--gpu needs a GPU type: set online.gpu.type in the project's somlier.yaml",
                hint=f"known GPU types: {', '.join(known)}"
                if known
                else "no gpu_types are set in .somlier/platform.yaml",
            )
        gpu_type, gpu_count = known[0], 1
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[dict[str, str], ...] = ()
    if gpu_type is not None:
        found = settings.gpu_types.get(gpu_type)
        if found is None:
            raise UserError(
                f"GPU type {gpu_type!r} is not in the platform's gpu_types",
                hint=f"known: {', '.join(sorted(settings.gpu_types)) or 'none'}",
            )
        node_selector = found.node_selector
        tolerations = tuple(
            {k: v for k, v in asdict(t).items() if v is not None} for t in found.tolerations
        )
    low, high = max(1, online.replicas.min), online.replicas.max
    if high < low:
        raise UserError(
            f"online.replicas.max ({high}) is below online.replicas.min ({low})",
            hint="the autoscaler needs min <= max",
        )
    return ServingSpec(
        model_name=request.model_name,
        model_version=str(request.model_version),
        env=request.env,
        image=image,
        namespace=settings.kubernetes.namespace,
        port=online.port,
        cpu=_check_quantity("cpu", online.resources.cpu or DEFAULT_CPU),
        memory=_check_quantity("memory", online.resources.memory or DEFAULT_MEMORY),
        gpu_count=gpu_count,
        node_selector=node_selector,
        tolerations=tolerations,
        min_replicas=low,
        max_replicas=high,
        istio=request.istio or online.istio,
    )


def _block(text: str, indent: int = 4) -> Quoted:
    """``text`` as a YAML literal block, readable in a diff. Safe for JSON from ``json.dumps``
    (ASCII, no blank lines, no line break inside a value): every line is indented, so none can
    end the block."""
    lines = text.splitlines()
    if any(not line.strip() for line in lines) or not text.isascii():
        return yaml_scalar(text)
    return Quoted("|-\n" + "\n".join(" " * indent + line for line in lines))


def _values(spec: ServingSpec, release: Mapping[str, Any]) -> dict[str, Quoted | None]:
    name = object_name(spec.model_name, spec.env)
    selector = {
        "app.kubernetes.io/name": model_label(spec.model_name),
        "app.kubernetes.io/instance": name,
    }
    labels = {
        **selector,
        "app.kubernetes.io/version": spec.model_version,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "somlier",
        "app.kubernetes.io/managed-by": "somlier",
        "somlier.dev/env": spec.env,
    }
    limits: dict[str, str] = {"memory": spec.memory}
    if spec.gpu_count:
        limits["nvidia.com/gpu"] = str(spec.gpu_count)
    raw: dict[str, Any] = {
        "name": name,
        "namespace": spec.namespace,
        "labels": labels,
        "selector": selector,
        "annotations": {
            "somlier.dev/model": spec.model_name,
            "somlier.dev/model-version": spec.model_version,
        },
        "image": spec.image,
        "port": spec.port,
        "env": [
            {"name": "SOMLIER_MODEL", "value": spec.model_name},
            {"name": "SOMLIER_MODEL_VERSION", "value": spec.model_version},
        ],
        "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory}, "limits": limits},
        "min_replicas": spec.min_replicas,
        "max_replicas": spec.max_replicas,
        "cpu_target": CPU_TARGET,
        "host": f"{name}.{spec.namespace}.svc.cluster.local",
        "release_name": f"{name[:54].rstrip('-')}-release",
    }
    values: dict[str, Quoted | None] = {key: yaml_scalar(value) for key, value in raw.items()}
    values["release_json"] = _block(json.dumps(release, indent=2, sort_keys=True))
    values["node_selector"] = yaml_scalar(dict(spec.node_selector)) if spec.node_selector else None
    values["tolerations"] = yaml_scalar(list(spec.tolerations)) if spec.tolerations else None
    return values


def render(spec: ServingSpec, *, release: Mapping[str, Any]) -> list[Manifest]:
    """The manifests of ``spec`` (and its release record ``release``), parsed back."""
    values = _values(spec, release)
    names = ["deployment", "service", "hpa", "pdb"]
    if spec.istio:
        names.append("virtualservice")
    names.append("release")
    made = []
    for name in names:
        text = render_template(f"{FOLDER}/{name}.yaml.j2", v=values)
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
        if len(docs) != 1 or not isinstance(docs[0], dict):
            raise StepFailed(f"the template {name}.yaml.j2 did not render one YAML mapping")
        made.append(Manifest(f"{name}.yaml", text, docs[0]))
    return made


@functools.cache
def istio_schema() -> dict[str, Any]:
    path = resources.data_dir("deploy_templates") / "serving" / ISTIO_SCHEMA
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def validate(manifests: list[Manifest], *, kubernetes_version: str) -> None:
    """Every manifest against kubernetes-validate's strict schemas for ``kubernetes_version``;
    the VirtualService against the Istio schema shipped in ``deploy_templates/serving/``."""
    kube_validate.validate_manifests(
        [m.document for m in manifests],
        kubernetes_version=kubernetes_version,
        extra_schemas={("networking.istio.io/v1", "VirtualService"): istio_schema()},
    )


def build(
    spec: ServingSpec, *, release: Mapping[str, Any], kubernetes_version: str
) -> list[Manifest]:
    """:func:`render` then :func:`validate`."""
    made = render(spec, release=release)
    validate(made, kubernetes_version=kubernetes_version)
    return made
