"""``somlier online train --k8s``: one Kubernetes Job per grid point, running the entrypoint in
the project's image (built by the pipeline with a ``sha-<commit>`` tag) against the tracking
server. Rendered from ``deploy_templates/training/job.yaml.j2``, parsed again and validated
strictly for the configured Kubernetes version."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pipeline.config.settings import PlatformSettings
from pipeline.errors import MissingDependency, StepFailed, UserError
from pipeline.images.refs import ImageName
from pipeline.online.tracking import Tracking
from pipeline.online.train import TrainPlan
from pipeline.render import render, yaml_scalar

TEMPLATE = "deploy_templates/training/job.yaml.j2"
TTL_SECONDS = 7 * 24 * 3600  # finished Jobs (and their logs) stay a week
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")


@dataclass(frozen=True, kw_only=True)
class JobOptions:
    image_tag: str | None = None  # default: sha-<first 7 of the commit>
    cpu: str | None = None
    memory: str | None = None
    gpu_type: str | None = None
    num_of_gpus: int | None = None


@dataclass(frozen=True)
class RenderedJob:
    name: str
    params: dict[str, str]
    image: str
    document: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params, "image": self.image}


def job_name(project: str, commit: str, index: int) -> str:
    suffix = f"-train-{commit[:7]}-{index}"
    return project[: 63 - len(suffix)].rstrip("-.") + suffix


def image_ref(plan: TrainPlan, settings: PlatformSettings, commit: str, tag: str | None) -> str:
    docker = plan.config.project.docker
    name = ImageName.parse(settings.registry.url, settings.registry.image_prefix + docker.name)
    return name.ref(tag or f"sha-{commit[:7]}")


def _check_tracking(tracking: Tracking) -> None:
    if tracking.is_local:
        raise UserError(
            f"a Kubernetes Job cannot reach the local MLflow store {tracking.shown}",
            hint="set mlflow.tracking_uri in .somlier/platform.yaml (or MLFLOW_TRACKING_URI) "
            "to the tracking server the cluster reaches",
        )
    if tracking.has_credentials:
        raise UserError(
            f"the tracking URI {tracking.shown} holds credentials, which would be written into "
            "the Job",
            hint="use a URI without user:password@ and give the Job its credentials through a "
            "Kubernetes Secret (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)",
        )


Placement = tuple[dict[str, str], dict[str, Any], dict[str, str], tuple[dict[str, str], ...]]


def _resources(options: JobOptions, settings: PlatformSettings) -> Placement:
    """Requests, limits, node selector and tolerations (the GPU type's, from the settings)."""
    for label, value in (("--cpu", options.cpu), ("--memory", options.memory)):
        if value is not None and not _QUANTITY.match(value):
            raise UserError(
                f"{label} {value!r} is not a quantity", hint="e.g. --cpu 2 --memory 4Gi"
            )
    requests = {k: v for k, v in (("cpu", options.cpu), ("memory", options.memory)) if v}
    limits: dict[str, Any] = {"memory": options.memory} if options.memory else {}
    if options.gpu_type is None:
        if options.num_of_gpus is not None:
            raise UserError(
                "--num_of_gpus needs --gpu_type", hint="e.g. --gpu_type nvidia-tesla-t4"
            )
        return requests, limits, {}, ()
    gpu = settings.gpu_types.get(options.gpu_type)
    if gpu is None:
        known = ", ".join(sorted(settings.gpu_types)) or "none configured"
        raise UserError(
            f"unknown GPU type {options.gpu_type!r}",
            hint=f"gpu_types in .somlier/platform.yaml: {known}",
        )
    count = 1 if options.num_of_gpus is None else options.num_of_gpus
    if count < 1:
        raise UserError("--num_of_gpus must be at least 1")
    limits["nvidia.com/gpu"] = count
    tolerations = tuple(
        {k: v for k, v in vars(t).items() if v is not None} for t in gpu.tolerations
    )
    return requests, limits, dict(gpu.node_selector), tolerations


def _env(plan: TrainPlan, tracking: Tracking) -> list[tuple[str, str]]:
    ours = {
        "MLFLOW_TRACKING_URI": tracking.uri,
        "MLFLOW_EXPERIMENT_NAME": plan.config.name,
        # MLflow adds these tags to the run the code starts (its system environment context).
        "MLFLOW_RUN_CONTEXT": json.dumps(plan.tags, sort_keys=True),
        "PYTHONUNBUFFERED": "1",
    }
    project = [(e.name, e.value) for e in plan.config.project.docker.env if e.name not in ours]
    return [*project, *ours.items()]


def render_jobs(
    plan: TrainPlan,
    *,
    commit: str,
    settings: PlatformSettings,
    tracking: Tracking,
    options: JobOptions,
) -> list[RenderedJob]:
    """Render, parse again and validate one Job per grid point."""
    import yaml

    from pipeline.online.kube_validate import validate_manifests

    try:
        import kubernetes_validate  # noqa: F401  (validate_manifests imports it when called)
    except ImportError as exc:
        raise MissingDependency("kubernetes_validate", "k8s") from exc
    _check_tracking(tracking)
    requests, limits, node_selector, tolerations = _resources(options, settings)
    image = image_ref(plan, settings, commit, options.image_tag)
    labels = {
        "app.kubernetes.io/name": plan.config.name,
        "app.kubernetes.io/component": "training",
        "app.kubernetes.io/managed-by": "somlier",
        "somlier.dev/commit": commit[:40],
    }
    env = _env(plan, tracking)
    jobs = []
    for index, params in enumerate(plan.runs, 1):
        name = job_name(plan.config.name, commit, index)
        job = {
            "name": yaml_scalar(name),
            "namespace": yaml_scalar(settings.kubernetes.namespace),
            "labels": [(yaml_scalar(k), yaml_scalar(v)) for k, v in labels.items()],
            "ttl_seconds": yaml_scalar(TTL_SECONDS),
            "node_selector": [(yaml_scalar(k), yaml_scalar(v)) for k, v in node_selector.items()],
            "tolerations": [yaml_scalar(t) for t in tolerations],
            "image": yaml_scalar(image),
            "command": yaml_scalar(plan.argv(params)),
            "env": [(yaml_scalar(k), yaml_scalar(v)) for k, v in env],
            "requests": yaml_scalar(requests) if requests else None,
            "limits": yaml_scalar(limits) if limits else None,
        }
        text = render(TEMPLATE, job=job)
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:  # a template bug, not the user's input
            raise StepFailed(f"the rendered Job {name} is not YAML: {exc}") from exc
        jobs.append(RenderedJob(name, dict(params), image, document))
    validate_manifests([j.document for j in jobs], kubernetes_version=settings.kubernetes.version)
    return jobs


def to_yaml(jobs: list[RenderedJob]) -> str:
    """The Jobs as one multi-document YAML stream (``kubectl apply -f -``)."""
    import yaml

    return yaml.safe_dump_all(
        [j.document for j in jobs], sort_keys=False, default_flow_style=False, allow_unicode=False
    )
