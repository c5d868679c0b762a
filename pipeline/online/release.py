"""The release record of a model in one environment: ``release.yaml`` in the deploy repository,
a ConfigMap whose ``release.json`` lists the releases, oldest first, each with the version, the
image and the full serving spec, so a rollback renders exactly what ran before. Pure.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from pipeline.errors import UserError
from pipeline.online.manifests import ServingSpec

MAX_HISTORY = 20

Action = Literal["deploy", "rollback"]


def release_record(model_name: str, env: str, history: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": model_name, "env": env, "history": history[-MAX_HISTORY:]}


def read_history(text: str | None, where: str) -> list[dict[str, Any]]:
    """The releases recorded in a ``release.yaml`` (none when the file does not exist)."""
    if text is None:
        return []
    try:
        doc = yaml.safe_load(text)
        record = json.loads(doc["data"]["release.json"])
        history = record["history"]
    except (yaml.YAMLError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(
            f"{where}: not a release record written by somlier ({type(exc).__name__}: {exc})",
            hint="restore the file from the deploy repository's history",
        ) from None
    if not isinstance(history, list) or not all(
        isinstance(e, dict) and isinstance(e.get("spec"), dict) for e in history
    ):
        raise UserError(f"{where}: the release history is not a list of releases")
    return history


def entry(spec: ServingSpec, action: Action) -> dict[str, Any]:
    return {
        "version": spec.model_version,
        "image": spec.image,
        "action": action,
        "spec": spec.to_json(),
    }


def after_deploy(history: list[dict[str, Any]], spec: ServingSpec) -> list[dict[str, Any]]:
    """The history once ``spec`` is deployed (a redeploy of the same spec adds nothing)."""
    if history and history[-1].get("spec") == spec.to_json():
        return list(history)
    return [*history, entry(spec, "deploy")]


def rollback_target(
    history: list[dict[str, Any]], where: str
) -> tuple[ServingSpec, list[dict[str, Any]]]:
    """The release before the current one, and the history with the current one taken off
    (a second rollback goes one further back)."""
    if len(history) < 2:
        raise UserError(
            f"{where}: no earlier release to roll back to "
            f"({'only one release' if history else 'nothing deployed yet'})",
            hint="deploy the version you want with `somlier online deploy MODEL VERSION --use_k8s`",
        )
    previous = history[-2]
    return ServingSpec.from_json(previous["spec"]), list(history[:-1])
