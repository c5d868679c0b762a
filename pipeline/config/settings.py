"""Platform settings: ``.somlier/platform.yaml`` at the monorepo root, overridden by
``SOMLIER__SECTION__KEY`` environment variables, validated by ``schemas/platform.schema.json``.
This module holds what they are; :func:`pipeline.config.settings_load.load_settings` reads them.

The environment is passed in (read once at the CLI edge). Tokens never live here: the settings
name the variable that holds each one, and :func:`pipeline.secret.secret` reads it into a redacted
:class:`~pipeline.secret.Secret`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FILENAME = Path(".somlier") / "platform.yaml"
SCHEMA = "platform"
ENV_PREFIX = "SOMLIER__"


@dataclass(frozen=True, kw_only=True)
class Registry:
    url: str = ""
    image_prefix: str = ""
    insecure: bool = False
    token_env: str = "SOMLIER_REGISTRY_TOKEN"


@dataclass(frozen=True, kw_only=True)
class CloudBuild:
    project: str | None = None
    region: str = "global"
    bucket: str | None = None
    timeout_seconds: int = 3600


@dataclass(frozen=True, kw_only=True)
class Builder:
    type: Literal["docker", "cloudbuild"] = "docker"
    parallelism: int = 2
    base_image: str = "python:3.11-slim"
    buildkit: Literal["auto", "on", "off"] = "auto"
    cloudbuild: CloudBuild = field(default_factory=CloudBuild)


@dataclass(frozen=True, kw_only=True)
class Packages:
    """Where project images (and ``make install``) get Python packages and somlier itself."""

    index_url: str = ""  # pip's --index-url in builds; empty: pip's default
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    # The variable holding an index URL with credentials (replaces index_url); never the URL.
    index_url_env: str = "SOMLIER_PIP_INDEX_URL"
    # Cloud Build: the Secret Manager version holding that URL (Cloud Build reads it, not us).
    index_url_secret: str | None = None
    somlier: Literal["wheel", "index"] = "wheel"


@dataclass(frozen=True, kw_only=True)
class Slack:
    channel: str = "#dp_monitor_cicd"
    token_env: str = "SLACK_BOT_TOKEN"


@dataclass(frozen=True, kw_only=True)
class GitHub:
    api_url: str = "https://api.github.com"
    projects_repo: str | None = None
    dags_repo: str | None = None
    deploy_repo: str | None = None
    token_env: str = "GITHUB_TOKEN"
    webhook_secret_env: str = "SOMLIER_WEBHOOK_SECRET"


@dataclass(frozen=True, kw_only=True)
class MLflow:
    tracking_uri: str = ""


@dataclass(frozen=True, kw_only=True)
class Kubernetes:
    namespace: str = "mlops"
    version: str = "1.30"


@dataclass(frozen=True, kw_only=True)
class Airflow:
    owner: str = "data-group"
    timezone: str = "Asia/Seoul"
    tags: tuple[str, ...] = ("data-group",)
    version: int = 3  # the major version of the dags repository's Airflow: 2 or 3


@dataclass(frozen=True, kw_only=True)
class Toleration:
    key: str
    operator: str | None = None
    value: str | None = None
    effect: str | None = None


@dataclass(frozen=True, kw_only=True)
class GpuType:
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Monorepo:
    global_paths: tuple[str, ...] = (".somlier/platform.yaml",)
    default_branch: str = "main"


@dataclass(frozen=True, kw_only=True)
class NotebookSize:
    cpu: int
    memory_gib: int


@dataclass(frozen=True, kw_only=True)
class NotebookProfiles:
    """The notebook servers of the platform's JupyterHub (``somlier notebook-profiles``)."""

    image: str = "quay.io/jupyter/scipy-notebook:python-3.11"
    sizes: tuple[NotebookSize, ...] = (
        NotebookSize(cpu=4, memory_gib=16),
        NotebookSize(cpu=8, memory_gib=32),
    )
    gpu_types: tuple[str, ...] = ("nvidia-tesla-p100", "nvidia-tesla-v100", "nvidia-tesla-t4")
    gpu_counts: tuple[int, ...] = (1, 2, 4)
    disk_gib: int = 50
    cull_idle_minutes: int = 30
    shared_claim: str = "jupyterhub-shared"

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> NotebookProfiles:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        if "sizes" in values:
            values["sizes"] = tuple(NotebookSize(**s) for s in values["sizes"])
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class Api:
    database: str = ".somlier/api.sqlite3"
    token_env: str = "SOMLIER_API_TOKEN"
    queue_size: int = 16


@dataclass(frozen=True, kw_only=True)
class Interpolation:
    """The variables a somlier.yaml may read with ``${VAR}`` (see :mod:`.variables`)."""

    allow: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PlatformSettings:
    registry: Registry = field(default_factory=Registry)
    builder: Builder = field(default_factory=Builder)
    packages: Packages = field(default_factory=Packages)
    slack: Slack = field(default_factory=Slack)
    github: GitHub = field(default_factory=GitHub)
    mlflow: MLflow = field(default_factory=MLflow)
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    airflow: Airflow = field(default_factory=Airflow)
    gpu_types: dict[str, GpuType] = field(default_factory=dict)
    monorepo: Monorepo = field(default_factory=Monorepo)
    notebook_profiles: NotebookProfiles = field(default_factory=NotebookProfiles)
    api: Api = field(default_factory=Api)
    interpolation: Interpolation = field(default_factory=Interpolation)
    source: Path | None = None  # the file read, if any
