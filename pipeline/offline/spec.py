"""What one Airflow DAG is made of: :class:`DagSpec`, built from a somlier.yaml job or from the
arguments of ``somlier offline create``, and checked before anything is rendered.

Pure: no files, no environment. Every default comes from the config model (``OfflineJob``) or
the platform settings (``airflow.*``, ``kubernetes.namespace``, ``gpu_types``, ``mlflow``).
"""

from __future__ import annotations

import datetime
import shlex
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

from pipeline.config.model import Gpu, OfflineJob, ProjectConfig
from pipeline.config.settings import PlatformSettings, Toleration
from pipeline.offline import pod
from pipeline.offline.values import (
    SpecError,
    check_dag_id,
    check_image,
    check_project_name,
    check_timezone,
    parse_schedule,
    parse_start_date,
    project_from_image,
)

Template = Literal["default", "mlops"]
TEMPLATES: tuple[str, ...] = get_args(Template)
MODEL_ALIAS = "champion"


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a DAG comes from, named in the header of the generated file."""

    project: str | None = None
    path: str | None = None  # the somlier.yaml, as shown to the user
    job: int | None = None  # index in its offline: list
    commit: str | None = None


@dataclass(frozen=True, kw_only=True)
class MLflowTarget:
    tracking_uri: str
    model_name: str
    model_alias: str = MODEL_ALIAS


@dataclass(frozen=True, kw_only=True)
class DagSpec:
    """Everything a DAG file says. Construction checks the dag_id, the schedule (which must be
    in the form :func:`parse_schedule` returns), the time zone and the GPU request."""

    dag_id: str
    schedule: str | None
    template: Template
    project_name: str
    image: str
    command: tuple[str, ...]
    description: str
    owner: str
    tags: tuple[str, ...]
    retries: int
    timezone: str
    start_date: datetime.date
    catchup: bool
    namespace: str
    cpu: str | None = None
    memory: str | None = None
    gpu_type: str | None = None
    num_of_gpus: int = 0
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    secrets: tuple[str, ...] = ()  # Kubernetes Secrets whose keys become the pod's environment
    mlflow: MLflowTarget | None = None  # set exactly when template is "mlops"
    source: Source = field(default_factory=Source)

    def __post_init__(self) -> None:
        check_dag_id(self.dag_id)
        if self.schedule is not None:
            normal = parse_schedule(self.schedule)
            if normal != self.schedule:
                raise SpecError(
                    "schedule",
                    f"schedule {self.schedule!r} is not in its normal form",
                    hint=f"use {normal!r}",
                )
        check_timezone(self.timezone)
        if self.template not in TEMPLATES:
            raise SpecError(
                "template",
                f"unknown template {self.template!r}",
                hint=f"use one of: {', '.join(TEMPLATES)}",
            )
        if (self.template == "mlops") != (self.mlflow is not None):
            raise SpecError("template", "the mlops template, and only it, carries an MLflow target")
        if not self.command:
            raise SpecError("command", "the command is empty", hint='e.g. "run main"')
        if self.retries < 0:
            raise SpecError("retries", f"retries must be 0 or more, not {self.retries}")
        if (self.gpu_type is None) != (self.num_of_gpus == 0) or self.num_of_gpus < 0:
            raise SpecError(
                "gpu",
                f"a GPU request needs a type and a count of 1 or more "
                f"(got type {self.gpu_type!r}, count {self.num_of_gpus})",
            )
        # The rules `somlier dags check` applies to the pod the operator builds from this spec.
        problems = pod.command_problems(pod.POD_COMMAND, self.command) + pod.gpu_problems(
            gpu_type=self.gpu_type,
            num_of_gpus=self.num_of_gpus,
            gpu_limit=pod.gpu_limit_of(self.num_of_gpus),
            node_selector=dict(self.node_selector),
        )
        if problems:
            first = problems[0]
            raise SpecError(first.field, first.message, hint=first.hint)


def _gpu(
    gpu: Gpu | None, settings: PlatformSettings
) -> tuple[str | None, int, tuple[tuple[str, str], ...], tuple[Toleration, ...]]:
    if gpu is None:
        return None, 0, (), ()
    known = settings.gpu_types
    if gpu.type in known:
        kind = known[gpu.type]
        return gpu.type, gpu.count, kind.node_selector, kind.tolerations
    if known:
        raise SpecError(
            "gpu.type",
            f"GPU type {gpu.type!r} is not in the platform's gpu_types",
            hint=f"known: {', '.join(sorted(known))}",
        )
    # No map at all (no platform settings): no node selector, which the pod rules refuse.
    return gpu.type, gpu.count, (), ()


def job_command(job: OfflineJob) -> tuple[str, ...]:
    """``entrypoint: X`` runs ``run X`` in the image; ``command: "run main"`` is split like a
    shell would split it."""
    if job.entrypoint is not None:
        return ("run", job.entrypoint)
    text = job.command or ""
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise SpecError("command", f"command {text!r}: {exc}", hint="balance the quotes") from None


def from_job(
    job: OfflineJob,
    settings: PlatformSettings,
    *,
    image: str,
    project_name: str,
    model_name: str,
    source: Source,
) -> DagSpec:
    """The DAG of one job; platform settings fill what the job leaves unset."""
    gpu_type, count, selector, tolerations = _gpu(job.gpu, settings)
    airflow = settings.airflow
    return DagSpec(
        dag_id=check_dag_id(job.dag_id),
        schedule=parse_schedule(job.schedule),
        template=job.template,
        project_name=project_name,
        image=image,
        command=job_command(job),
        description=job.description,
        owner=job.owner or airflow.owner,
        tags=job.tags or airflow.tags,
        retries=job.retries,
        timezone=check_timezone(job.timezone or airflow.timezone),
        start_date=parse_start_date(job.start_date),
        catchup=job.catchup,
        namespace=settings.kubernetes.namespace,
        cpu=job.resources.cpu,
        memory=job.resources.memory,
        gpu_type=gpu_type,
        num_of_gpus=count,
        node_selector=selector,
        tolerations=tolerations,
        secrets=job.secrets,
        mlflow=_mlflow(job.template, settings, model_name),
        source=source,
    )


def _mlflow(template: Template, settings: PlatformSettings, model_name: str) -> MLflowTarget | None:
    if template != "mlops":
        return None
    if not settings.mlflow.tracking_uri:
        raise SpecError(
            "template",
            "the mlops template needs the platform's MLflow tracking URI",
            hint="set mlflow.tracking_uri in .somlier/platform.yaml "
            "(or SOMLIER__MLFLOW__TRACKING_URI)",
        )
    return MLflowTarget(tracking_uri=settings.mlflow.tracking_uri, model_name=model_name)


def from_project(
    config: ProjectConfig,
    index: int,
    settings: PlatformSettings,
    *,
    image: str,
    shown_path: str | None = None,
    commit: str | None = None,
) -> DagSpec:
    """The DAG of ``config.offline[index]``, running ``image``."""
    return from_job(
        config.offline[index],
        settings,
        image=image,
        project_name=config.name,
        model_name=config.model.name,
        source=Source(
            project=config.name,
            path=shown_path if shown_path is not None else str(config.path),
            job=index,
            commit=commit,
        ),
    )


def from_create(
    *,
    image: str,
    schedule: str,
    command: str,
    dag_id: str,
    template: str,
    settings: PlatformSettings,
    gpu_type: str | None = None,
    num_of_gpus: int | None = None,
    project_name: str | None = None,
) -> DagSpec:
    """The DAG of ``somlier offline create IMAGE SCHEDULE COMMAND DAG_ID [TEMPLATE]``."""
    check_dag_id(dag_id)
    parse_schedule(schedule)
    check_image(image)
    if template not in TEMPLATES:
        raise SpecError(
            "template", f"unknown template {template!r}", hint=f"use {' or '.join(TEMPLATES)}"
        )
    if num_of_gpus is not None and gpu_type is None:
        raise SpecError(
            "gpu", "--num_of_gpus needs --gpu_type", hint="e.g. --gpu_type nvidia-tesla-t4"
        )
    name = check_project_name(
        project_name or project_from_image(image, settings.registry.image_prefix)
    )
    job = OfflineJob(
        dag_id=dag_id,
        schedule=schedule,
        command=command,
        template=cast(Template, template),  # checked against TEMPLATES above
        gpu=Gpu(type=gpu_type, count=num_of_gpus or 1) if gpu_type is not None else None,
    )
    return from_job(job, settings, image=image, project_name=name, model_name=name, source=Source())
