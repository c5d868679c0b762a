"""Where MLflow runs are recorded: the tracking URI, its redaction, the experiment, and the one
lazy import of MLflow.

Precedence of the tracking URI: ``MLFLOW_TRACKING_URI`` (read by the CLI and passed in) > the
platform settings' ``mlflow.tracking_uri`` > a SQLite file ``.somlier/mlflow.db`` under the
monorepo root (or the current folder outside a repository), whose artifacts go next to it in
``.somlier/mlartifacts`` (never into the temporary checkout a run starts in).
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.errors import MissingDependency, StepFailed, UserError

if TYPE_CHECKING:
    from mlflow import MlflowClient

STORE_DIR = Path(".somlier")
DB_NAME = "mlflow.db"
ARTIFACTS_NAME = "mlartifacts"

Source = Literal["environment", "settings", "default"]

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced: ``https://***@host/...``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def has_credentials(uri: str) -> bool:
    return redact(uri) != uri


@dataclass(frozen=True)
class Tracking:
    """The resolved tracking URI, where it came from, and (for a SQLite store) the artifact
    folder its new experiments use."""

    uri: str
    source: Source
    artifact_root: Path | None = None

    @property
    def shown(self) -> str:
        """The URI as it may be printed: credentials redacted."""
        return redact(self.uri)

    @property
    def has_credentials(self) -> bool:
        return has_credentials(self.uri)

    @property
    def is_local(self) -> bool:
        """A store only this machine can reach (a SQLite or plain file path)."""
        scheme = urllib.parse.urlsplit(self.uri).scheme
        return scheme in ("sqlite", "file", "") or len(scheme) == 1  # "C:" paths


def _beside_sqlite(uri: str) -> Path | None:
    """For a SQLite store, the artifact folder next to its file (MLflow's own default,
    ``./mlruns`` of the current folder, would scatter artifacts wherever a run starts)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = uri[len("sqlite:///") :].partition("?")[0]
    if not database or database == ":memory:":
        return None
    return Path(database).resolve().parent / ARTIFACTS_NAME


def resolve(*, root: Path, settings_uri: str, env_uri: str | None) -> Tracking:
    """The tracking URI to use; ``root`` holds the default store (``root/.somlier/mlflow.db``).

    New experiments of a SQLite store keep their artifacts in ``mlartifacts/`` beside it."""
    if env_uri:
        return Tracking(env_uri, "environment", _beside_sqlite(env_uri))
    if settings_uri:
        return Tracking(settings_uri, "settings", _beside_sqlite(settings_uri))
    store = root.resolve() / STORE_DIR
    return Tracking(f"sqlite:///{store / DB_NAME}", "default", store / ARTIFACTS_NAME)


def for_repo(base: Path, *, settings_uri: str, env_uri: str | None) -> Tracking:
    """The store of the monorepo around ``base`` (the git root; ``base`` outside a repository):
    ``env_uri`` (``MLFLOW_TRACKING_URI``) > ``settings_uri`` > its ``.somlier/mlflow.db``."""
    from pipeline.monorepo.discovery import repo_root

    root = repo_root(base.resolve()) or base.resolve()
    return resolve(root=root, settings_uri=settings_uri, env_uri=env_uri)


def project_run_environment(
    project_root: Path,
    project_name: str,
    *,
    environ: Mapping[str, str],
    settings_uri: Callable[[], str],
) -> dict[str, str]:
    """The store variables ``somlier config run`` gives an entrypoint of the project in
    ``project_root`` (see :func:`local_run_environment`). ``environ``: the process environment
    (its ``MLFLOW_TRACKING_URI`` and ``MLFLOW_EXPERIMENT_NAME``); ``settings_uri``: the
    platform settings' URI, asked for only when the environment names no store. The default
    store's folder is created (SQLite makes the file, not its folder)."""
    from pipeline.config.location import checkout_root

    env_uri = environ.get("MLFLOW_TRACKING_URI")
    configured = "" if env_uri else settings_uri()
    # Without git: an image runs `somlier config run` in a folder with neither git nor a checkout.
    repo = None if env_uri or configured else checkout_root(project_root.resolve())
    env = local_run_environment(
        env_uri=env_uri,
        settings_uri=configured,
        repo=repo,
        experiment=None if environ.get("MLFLOW_EXPERIMENT_NAME") else project_name,
    )
    if repo is not None and env.get("MLFLOW_TRACKING_URI", "").endswith(
        f"/{STORE_DIR.as_posix()}/{DB_NAME}"
    ):
        (repo.resolve() / STORE_DIR).mkdir(exist_ok=True)
    return env


def local_run_environment(
    *, env_uri: str | None, settings_uri: str, repo: Path | None, experiment: str | None
) -> dict[str, str]:
    """What ``somlier config run`` adds to an entrypoint's environment so that its runs land in
    the store ``online train`` and ``online register`` use: the settings' URI, or the
    monorepo's ``.somlier/mlflow.db`` (``repo`` is the git root around the project); and the
    project's name as the default experiment (``experiment``, None when the caller set one).

    An explicit ``MLFLOW_TRACKING_URI`` is left as it is; outside a git repository without a
    settings URI (e.g. inside the project's image) MLflow's own default applies.
    """
    env = {"MLFLOW_EXPERIMENT_NAME": experiment} if experiment else {}
    if env_uri:
        return env
    if settings_uri:
        return {**env, **child_environment(resolve(root=Path(), settings_uri=settings_uri,
                                                   env_uri=None))}  # fmt: skip
    if repo is None:
        return env
    return {**env, **child_environment(resolve(root=repo, settings_uri="", env_uri=None))}


def child_environment(tracking: Tracking) -> dict[str, str]:
    """The variables that point a child process at ``tracking``. Credentials in the URI move to
    ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``, so the URLs MLflow prints ("View run at ...")
    never carry them."""
    parts = urllib.parse.urlsplit(tracking.uri)
    if not has_credentials(tracking.uri) or parts.username is None:
        return {"MLFLOW_TRACKING_URI": tracking.uri}
    host = parts.netloc.rpartition("@")[2]
    return {
        "MLFLOW_TRACKING_URI": urllib.parse.urlunsplit(parts._replace(netloc=host)),
        "MLFLOW_TRACKING_USERNAME": urllib.parse.unquote(parts.username),
        "MLFLOW_TRACKING_PASSWORD": urllib.parse.unquote(parts.password or ""),
    }


def import_mlflow() -> Any:
    """``mlflow``, or a clear error naming the extra to install."""
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - the dev environment has it
        raise MissingDependency("mlflow", "mlflow") from exc
    # A new SQLite store announces its table creation and migrations at INFO: not the user's
    # business (somlier prints what it did).
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def client(tracking: Tracking) -> MlflowClient:
    """A client bound to ``tracking`` for both runs and the model registry.

    The global URIs are set as well: MLflow's registry store looks logged models up through a
    client of its own, made from the global tracking URI.
    """
    if tracking.artifact_root is not None:
        tracking.artifact_root.parent.mkdir(parents=True, exist_ok=True)
    mlflow = import_mlflow()
    mlflow.set_tracking_uri(tracking.uri)
    mlflow.set_registry_uri(tracking.uri)
    result: MlflowClient = mlflow.MlflowClient(tracking.uri, registry_uri=tracking.uri)
    return result


def mlflow_failure(exc: Exception, tracking: Tracking, doing: str) -> StepFailed:
    """An MLflow error as a StepFailed whose text never shows credentials."""
    return StepFailed(
        f"{doing} failed at {tracking.shown}: {redact(str(exc))}",
        hint="is the tracking server up? (MLFLOW_TRACKING_URI or mlflow.tracking_uri)",
    )


def experiment_id(mlflow_client: MlflowClient, tracking: Tracking, name: str) -> str:
    """The id of experiment ``name``, created when missing (with the default store's artifact
    folder, so artifacts outlive the checkout the run started in)."""
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise UserError(
                    f"experiment {name!r} is deleted in {tracking.shown}",
                    hint="restore it (mlflow experiments restore) or delete it for good",
                )
            return str(found.experiment_id)
        location = tracking.artifact_root.as_uri() if tracking.artifact_root else None
        return str(mlflow_client.create_experiment(name, artifact_location=location))
    except MlflowException as exc:
        raise mlflow_failure(exc, tracking, f"opening experiment {name!r}") from exc
