"""Loading the platform settings (:mod:`pipeline.config.settings`): ``.somlier/platform.yaml`` at
the monorepo root, with the ``SOMLIER__SECTION__KEY`` environment overrides applied, validated by
``schemas/platform.schema.json``; read back from :mod:`~pipeline.config.settings_cache` when
loaded before, and the ones :func:`~pipeline.config.pins.pinned` for a root win over its file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline import resources
from pipeline.config import settings_cache
from pipeline.config.settings import (
    ENV_PREFIX,
    FILENAME,
    SCHEMA,
    Airflow,
    Api,
    Builder,
    CloudBuild,
    GitHub,
    GpuType,
    Interpolation,
    Kubernetes,
    MLflow,
    Monorepo,
    NotebookProfiles,
    Packages,
    PlatformSettings,
    Registry,
    Slack,
    Toleration,
)
from pipeline.errors import ConfigError, Diagnostic, UserError


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
