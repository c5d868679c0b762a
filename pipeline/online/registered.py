"""Is a model version registered? Asked before a deployment starts, so that an unknown model or
version is refused at once (exit 2, or 422 over the API) with what *is* registered, instead of
failing later, half-way, for another reason.

MLflow is imported lazily, when a check runs.
"""

from __future__ import annotations

import difflib
from typing import Any

from pipeline.errors import UserError

SHOWN_VERSIONS = 20  # the newest ones; the rest is counted
SHOWN_NAMES = 5
SEARCHED_MODELS = 1000


def check_registered(name: str, version: str, *, tracking_uri: str) -> None:
    """Raise :class:`UserError` unless version ``version`` of model ``name`` is in the registry
    at ``tracking_uri`` (the one the deployment reads); :class:`StepFailed` when the registry
    cannot be asked."""
    from mlflow.exceptions import MlflowException

    from pipeline.online import tracking

    where = tracking.Tracking(tracking_uri, "environment")
    client = tracking.client(where)
    try:
        client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise unknown_version(client, name, version, where.shown) from None
        raise tracking.mlflow_failure(exc, where, f"looking up {name} version {version}") from exc


def unknown_version(client: Any, name: str, version: str, shown_uri: str) -> UserError:
    """The error for a model version the registry does not hold, naming what it holds."""
    versions = _versions(client, name)
    if versions is None:
        return UserError(
            f"no version {version} of model {name!r} in the registry at {shown_uri}",
            hint="check the name with the MLflow UI",
        )
    if versions:
        return UserError(
            f"no version {version} of model {name!r} in the registry at {shown_uri}",
            hint=f"registered versions: {_listed(versions)}",
        )
    close = _close_names(client, name)
    also = f"; close names: {', '.join(close)}" if close else ""
    return UserError(
        f"no model named {name!r} is registered in {shown_uri}{also}",
        hint="register one with `somlier online register RUN_ID MODEL_NAME`",
    )


def known_versions_hint(client: Any, name: str) -> str:
    """A hint listing the registered versions of ``name`` (for :mod:`model_ref`)."""
    versions = _versions(client, name)
    if versions is None:
        return "check the name with `mlflow models` or the MLflow UI"
    if not versions:
        return "no model of that name is registered; register one with `somlier online register`"
    return f"registered versions: {_listed(versions)}"


def _versions(client: Any, name: str) -> list[int] | None:
    from mlflow.exceptions import MlflowException

    try:
        quoted = name.replace("'", "\\'")
        found = client.search_model_versions(f"name = '{quoted}'")
    except MlflowException:
        return None
    return sorted(int(v.version) for v in found)


def _listed(versions: list[int]) -> str:
    if len(versions) <= SHOWN_VERSIONS:
        return ", ".join(str(v) for v in versions)
    newest = versions[-SHOWN_VERSIONS:]
    earlier = len(versions) - SHOWN_VERSIONS
    return f"{', '.join(str(v) for v in newest)} (and {earlier} earlier)"


def _close_names(client: Any, name: str) -> list[str]:
    from mlflow.exceptions import MlflowException

    try:
        models = client.search_registered_models(max_results=SEARCHED_MODELS)
    except MlflowException:
        return []
    names = [m.name for m in models]
    by_folded = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(by_folded), n=SHOWN_NAMES, cutoff=0.6)
    return [by_folded[c] for c in close]
