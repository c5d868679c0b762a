"""Platform settings: ``.somlier/platform.yaml`` at the monorepo root, overridden by
``SOMLIER__SECTION__KEY`` environment variables, validated by ``schemas/platform.schema.json``.

The environment is passed in (read once at the CLI edge). Tokens never live here: the settings
name the variable that holds each one, and :func:`pipeline.secret.secret` reads it into a redacted
:class:`~pipeline.secret.Secret`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline import resources
from pipeline.config import settings_cache
from pipeline.errors import ConfigError, Diagnostic, UserError

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


def _subschema(path: list[str]) -> dict[str, Any]:
    node: dict[str, Any] = resources.schema(SCHEMA)
    for part in path:
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
        if "$ref" in node:
            node = resources.schema(SCHEMA)["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _env_value(raw: str, path: list[str]) -> Any:
    """Strings stay as written; other types are read as YAML (``4``, ``true``, ``[a, b]``)."""
    if _subschema(path).get("type", "string") == "string":
        return raw
    from pipeline.config import yamlsafe

    return yamlsafe.parse_value(raw)


def apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Apply ``SOMLIER__SECTION__KEY=value`` overrides in place; return the variables used."""
    used = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise UserError(
                f"{name}: empty section in the variable name", hint="SOMLIER__SECTION__KEY"
            )
        target = data
        for part in path[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(f"{name}: {part} is not a section")
            target = child
        target[path[-1]] = _env_value(environ[name], path)
        used.append(name)
    return used


def _build(data: dict[str, Any], source: Path | None) -> PlatformSettings:
    def section(cls: Any, key: str, **extra: Any) -> Any:
        raw = {k: v for k, v in data.get(key, {}).items() if k not in extra}
        for k, v in raw.items():
            if isinstance(v, list):
                raw[k] = tuple(v)
        return cls(**raw, **extra)

    builder_raw = data.get("builder", {})
    return PlatformSettings(
        registry=section(Registry, "registry"),
        builder=section(
            Builder, "builder", cloudbuild=CloudBuild(**builder_raw.get("cloudbuild", {}))
        ),
        packages=section(Packages, "packages"),
        slack=section(Slack, "slack"),
        github=section(GitHub, "github"),
        mlflow=section(MLflow, "mlflow"),
        kubernetes=section(Kubernetes, "kubernetes"),
        airflow=section(Airflow, "airflow"),
        gpu_types={
            name: GpuType(
                node_selector=tuple(sorted(spec.get("node_selector", {}).items())),
                tolerations=tuple(Toleration(**t) for t in spec.get("tolerations", ())),
            )
            for name, spec in data.get("gpu_types", {}).items()
        },
        monorepo=section(Monorepo, "monorepo"),
        notebook_profiles=NotebookProfiles.from_raw(data.get("notebook_profiles", {})),
        api=section(Api, "api"),
        interpolation=section(Interpolation, "interpolation"),
        source=source,
    )


def load_settings(root: Path | None, environ: Mapping[str, str]) -> PlatformSettings:
    """Settings of the monorepo at ``root`` (``None``: defaults and environment only), or those
    :func:`~pipeline.config.pins.pinned` for it.

    A load that succeeded before with the same inputs is read back from
    :mod:`~pipeline.config.settings_cache` instead of parsed and validated again."""
    from pipeline.config.pins import pinned_for

    pin = pinned_for(root)
    if pin is not None:
        return pin
    path = root / FILENAME if root is not None else None
    entry = settings_cache.key(root, environ)
    stored = settings_cache.load(entry, environ)
    if stored is not None:
        return _build(stored["data"], path if path is not None and path.is_file() else None)
    data, source = _validated(path, environ)
    settings = _build(data, source)
    settings_cache.store(entry, environ, data, settings.monorepo.global_paths)
    return settings


def _validated(path: Path | None, environ: Mapping[str, str]) -> tuple[dict[str, Any], Path | None]:
    """The data of the file at ``path`` (if it is one) with the environment's overrides applied,
    validated; and the file, if read."""
    from pipeline.config import schema, yamlsafe
    from pipeline.config.interpolate import FromEnv, interpolate_tree

    node = None
    from_env = FromEnv()
    shown = str(path) if path is not None else "environment"
    data: dict[str, Any] = {}
    if path is not None and path.is_file():
        doc = yamlsafe.load_text(yamlsafe.read_file(path, shown), shown)
        data, node = doc.data, doc.node
        # The platform's own file is trusted (it names the secrets): it reads any variable.
        # What it read stays out of every message (a mistyped value may hold a token).
        found = interpolate_tree(
            data, environ, max_depth=yamlsafe.MAX_DEPTH, variables=None, from_env=from_env
        )
        if found:
            raise ConfigError(
                [
                    Diagnostic(shown, *schema.locate(node, p, False), e.message, e.hint)
                    for p, e in found
                ]
            )
    else:
        path = None
    overridden = {
        tuple(n[len(ENV_PREFIX) :].lower().split("__")): n for n in apply_environment(data, environ)
    }
    if not schema.is_valid(SCHEMA, data):
        diags = []
        for f in schema.findings(SCHEMA, data):
            where = tuple(str(p) for p in f.path)
            variable = next(
                (v for p, v in overridden.items() if p[: len(where)] == where and where), None
            )
            if variable is not None:
                diags.append(Diagnostic(variable, 0, 0, f.message, f.hint))
                continue
            line, col = schema.locate(node, f.path, f.at_key) if node is not None else (0, 0)
            message, hint = from_env.scrub(f.path, f.message), from_env.scrub(f.path, f.hint)
            diags.append(Diagnostic(shown, line, col, message, hint))
        raise ConfigError(sorted(diags, key=lambda d: (d.path, d.line, d.col)))
    return data, path
