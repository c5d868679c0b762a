"""The ``cloudbuild`` builder: Google Cloud Build through google-cloud-build (REST).

The job's context goes to ``gs://<bucket>/somlier/<project>/<source hash>.tar.gz`` (gzip, pinned
by generation); the build pulls the previous image for ``--cache-from``, runs ``docker build`` on
Cloud Build's own network and lists every tag under ``images`` so Cloud Build pushes them. The
build is polled with exponential backoff; its log URL ends up in the log tail of the report.

There is no local engine: :meth:`CloudBuildBuilder.has` is always false (the registry client
finds reusable images before a build is asked for).
"""

from __future__ import annotations

import gzip
import shlex
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
)

from pipeline.config.settings import CloudBuild
from pipeline.errors import MissingDependency, StepFailed, UserError
from pipeline.images.engine import BuildFailed, Built, LogTail
from pipeline.images.job import BuildJob
from pipeline.images.packages import CLOUD_SECRET_ENV
from pipeline.images.refs import ImageName

DOCKER_STEP = "gcr.io/cloud-builders/docker"
SOURCE_HASH_LABEL = "dev.somlier.source-hash"
PENDING = frozenset({"STATUS_UNKNOWN", "PENDING", "QUEUED", "WORKING"})
QUEUE_GRACE = 600  # seconds a build may wait in the queue on top of its own timeout
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_TRANSIENT_CODES = frozenset({408, 429, 500, 502, 503, 504})


def escape(arg: str) -> str:
    """Cloud Build expands ``$NAME`` in step arguments; ``$$`` is a literal ``$``."""
    return arg.replace("$", "$$")


def build_spec(
    job: BuildJob, bucket: str, name: str, generation: int, timeout_seconds: int, marker: str
) -> dict[str, Any]:
    """The Build resource (proto field names) for ``job``, its context at ``gs://bucket/name``.

    ``marker`` is a build tag unique to this request: after a failed create, it finds a build
    the service made anyway, so a retry never starts a second one.
    """
    refs = [job.image.ref(tag) for tag in job.tags]
    args = ["build", "--network", "cloudbuild"]
    available: list[dict[str, str]] = []
    for s in job.secrets:
        if s.secret_manager_version is None:
            # A value would be stored in the Build resource, readable by anyone who can list
            # builds: only Secret Manager references go to Cloud Build.
            raise BuildFailed(f"the build secret {s.id} is not in Secret Manager", ())
        env = CLOUD_SECRET_ENV if len(job.secrets) == 1 else f"{CLOUD_SECRET_ENV}_{len(available)}"
        available.append({"version_name": s.secret_manager_version, "env": env})
        args += ["--secret", f"id={s.id},env={env}"]
    for ref in job.cache_from:
        args += ["--cache-from", ref]
    # BuildKit uses an image as cache only when it carries inline cache metadata.
    for key, value in {**job.build_args, "BUILDKIT_INLINE_CACHE": "1"}.items():
        args += ["--build-arg", f"{key}={value}"]
    for key, value in job.labels.items():
        args += ["--label", f"{key}={value}"]
    args += ["-f", job.dockerfile]
    for ref in refs:
        args += ["-t", ref]
    args.append(".")
    steps: list[dict[str, Any]] = []
    if job.cache_from:
        pulls = " ; ".join(f"docker pull {shlex.quote(ref)} || true" for ref in job.cache_from)
        steps.append(
            {"id": "pull-cache", "name": DOCKER_STEP, "entrypoint": "bash", "args": ["-c", pulls]}
        )
    # BuildKit: project Dockerfiles mount pip's cache and the index secret (RUN --mount).
    build_step: dict[str, Any] = {
        "id": "build",
        "name": DOCKER_STEP,
        "args": args,
        "env": ["DOCKER_BUILDKIT=1"],
    }
    if available:
        build_step["secret_env"] = [a["env"] for a in available]
    steps.append(build_step)
    for step in steps:
        step["args"] = [escape(arg) for arg in step["args"]]
    spec: dict[str, Any] = {
        "source": {"storage_source": {"bucket": bucket, "object_": name, "generation": generation}},
        "steps": steps,
        "images": refs,
        "timeout": {"seconds": timeout_seconds},
        "tags": ["somlier", job.project, marker],
    }
    if available:
        spec["available_secrets"] = {"secret_manager": available}
    return spec


def object_name(job: BuildJob) -> str:
    key = job.labels.get(SOURCE_HASH_LABEL) or uuid.uuid4().hex
    return f"somlier/{job.project}/{key}.tar.gz"


def digest_of(build: Any, image: ImageName, tags: tuple[str, ...]) -> str | None:
    """The digest Cloud Build reports for the first tag pushed (all tags share it)."""
    found = {i.name: i.digest for i in build.results.images if i.digest}
    for tag in tags:
        if image.ref(tag) in found:
            return str(found[image.ref(tag)])
    return None


def _transient(exc: BaseException) -> bool:
    import requests
    from google.api_core import exceptions

    if isinstance(exc, exceptions.GoogleAPICallError):
        return exc.code in _TRANSIENT_CODES
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _retry_after(exc: BaseException | None) -> float:
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        return min(float(value), 60.0) if value else 0.0
    except ValueError:  # an HTTP date: fall back to the backoff
        return 0.0


class CloudBuildBuilder:
    """``credentials``: Application Default Credentials when ``None``. The endpoints are for
    tests and emulators; ``sleep`` lets tests observe the backoff without waiting."""

    def __init__(
        self,
        settings: CloudBuild,
        *,
        credentials: Any = None,
        api_endpoint: str | None = None,
        storage_endpoint: str | None = None,
        poll_initial: float = 2.0,
        poll_max: float = 30.0,
        create_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.project:
            raise UserError(
                "builder.cloudbuild.project is not set", hint="name the GCP project that builds"
            )
        if not settings.bucket:
            raise UserError(
                "builder.cloudbuild.bucket is not set",
                hint="name a GCS bucket for the source tarballs",
            )
        try:
            import google.auth
            from google.auth import exceptions as auth_errors
            from google.cloud import storage
            from google.cloud.devtools import cloudbuild_v1
        except ImportError:
            raise MissingDependency("google-cloud-build", "gcp") from None
        if credentials is None:
            try:
                credentials, _ = google.auth.default(scopes=_SCOPES)
            except auth_errors.DefaultCredentialsError:
                raise UserError(
                    "no Google Cloud credentials for Cloud Build",
                    hint="run `gcloud auth application-default login` or set "
                    "GOOGLE_APPLICATION_CREDENTIALS (on GitHub: google-github-actions/auth)",
                ) from None
        self.settings = settings
        self._types = cloudbuild_v1
        self._client = cloudbuild_v1.CloudBuildClient(
            credentials=credentials,
            transport="rest",
            client_options={"api_endpoint": api_endpoint} if api_endpoint else None,
        )
        self._storage = storage.Client(
            project=settings.project,
            credentials=credentials,
            client_options={"api_endpoint": storage_endpoint} if storage_endpoint else None,
        )
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._create_attempts = create_attempts
        self._sleep = sleep

    # the Builder protocol -----------------------------------------------------------------------

    def has(self, ref: str) -> bool:
        return False  # no local engine

    def tag_local(self, source: str, image: ImageName, tags: tuple[str, ...]) -> None:
        raise StepFailed("Cloud Build has no local engine to tag in")

    def build(self, job: BuildJob, log: Callable[[str], None]) -> Built:
        tail = emit = LogTail(log)

        if not job.image.registry:
            raise BuildFailed("Cloud Build pushes to a registry: set registry.url", ())
        try:
            return self._build(job, emit, tail)
        except _errors() as exc:
            raise BuildFailed(f"Cloud Build: {_describe(exc)}", tuple(tail)) from None

    # the steps ------------------------------------------------------------------------------------

    def _build(self, job: BuildJob, emit: Callable[[str], None], tail: LogTail) -> Built:
        bucket, name = str(self.settings.bucket), object_name(job)
        data = gzip.compress(job.context, mtime=0)
        blob = self._storage.bucket(bucket).blob(name)
        try:
            blob.upload_from_string(data, content_type="application/gzip")
        except _errors() as exc:
            raise BuildFailed(
                f"uploading the context to gs://{bucket}/{name} failed: {_describe(exc)}",
                tuple(tail),
            ) from None
        emit(f"uploaded the context to gs://{bucket}/{name} ({len(data)} bytes)")
        marker = f"somlier-{uuid.uuid4().hex[:20]}"
        spec = build_spec(
            job, bucket, name, int(blob.generation or 0), self.settings.timeout_seconds, marker
        )
        build = self._create(self._types.Build(spec), marker)
        emit(f"Cloud Build {build.id} queued; log: {build.log_url}")
        build = self._wait(build, emit, tail)
        status = build.status.name
        if status == "SUCCESS":
            digest = digest_of(build, job.image, job.tags)
            if digest is None:
                raise BuildFailed(f"Cloud Build reported no digest for {job.image}", tuple(tail))
            emit(
                f"Cloud Build {build.id} SUCCESS: pushed {job.image}@{digest}; log: {build.log_url}"
            )
            return Built(image_id="", digest=digest, log_tail=tuple(tail))
        for line in self._log_lines(build):
            emit(line)
        detail = f" ({build.status_detail})" if build.status_detail else ""
        emit(f"Cloud Build {build.id} {status}{detail}; log: {build.log_url}")
        raise BuildFailed(
            f"the image of {job.project} did not build: Cloud Build {status}, log {build.log_url}",
            tuple(tail),
        )

    def _where(self) -> Mapping[str, str]:
        """Global builds are addressed by project; regional ones by their location."""
        if self.settings.region == "global":
            return {"project_id": str(self.settings.project)}
        return {"parent": f"projects/{self.settings.project}/locations/{self.settings.region}"}

    def _create(self, build: Any, marker: str) -> Any:
        types = self._types
        for attempt in Retrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self._create_attempts),
            wait=self._create_wait,
            sleep=self._sleep,
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    found = self._find(marker)
                    if found is not None:
                        return found
                request = types.CreateBuildRequest(build=build, **self._where())
                return self._client.create_build(request=request).metadata.build
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _create_wait(self, state: RetryCallState) -> float:
        backoff = min(self._poll_max, self._poll_initial * 2.0 ** (state.attempt_number - 1))
        exc = state.outcome.exception() if state.outcome is not None else None
        return max(backoff, _retry_after(exc))

    def _find(self, marker: str) -> Any:
        """The build a failed create may have made after all (found by its unique tag)."""
        request = self._types.ListBuildsRequest(filter=f'tags="{marker}"', **self._where())
        for build in self._client.list_builds(request=request):
            return build
        return None

    def _get(self, build_id: str) -> Any:
        where = self._where()
        if "parent" in where:
            request = self._types.GetBuildRequest(name=f"{where['parent']}/builds/{build_id}")
        else:
            request = self._types.GetBuildRequest(project_id=where["project_id"], id=build_id)
        return self._client.get_build(request=request)

    def _wait(self, build: Any, emit: Callable[[str], None], tail: LogTail) -> Any:
        seen = [build.status.name]

        def poll() -> Any:
            current = self._get(build.id)
            if current.status.name != seen[-1]:
                seen.append(current.status.name)
                emit(f"Cloud Build {build.id}: {current.status.name}")
            return current

        limit = self.settings.timeout_seconds + QUEUE_GRACE
        retrying = Retrying(
            retry=retry_if_result(lambda b: b.status.name in PENDING)
            | retry_if_exception(_transient),
            wait=lambda s: min(self._poll_max, self._poll_initial * 2.0 ** (s.attempt_number - 1)),
            stop=stop_after_delay(limit),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(poll)
        except RetryError:
            raise BuildFailed(
                f"Cloud Build {build.id} was still {seen[-1]} after {limit} s; log: "
                f"{build.log_url}",
                tuple(tail),
            ) from None

    def _log_lines(self, build: Any, count: int = 20) -> list[str]:
        """The last lines of the build's log, when its logs bucket is readable (best effort)."""
        where = build.logs_bucket.removeprefix("gs://")
        if not where or not build.id:
            return []
        bucket, _, prefix = where.partition("/")
        name = f"{prefix.rstrip('/')}/log-{build.id}.txt" if prefix else f"log-{build.id}.txt"
        try:
            text: bytes = self._storage.bucket(bucket).blob(name).download_as_bytes(retry=None)
        except _errors() as exc:
            return [f"(the build log is not readable here: {_describe(exc)})"]
        return text.decode("utf-8", "replace").splitlines()[-count:]


def _errors() -> tuple[type[BaseException], ...]:
    """What the Google clients raise for a failed call (after their own retries)."""
    import requests
    from google.api_core import exceptions
    from google.auth import exceptions as auth_errors
    from google.cloud.storage import exceptions as gcs_errors

    return (
        exceptions.GoogleAPIError,
        auth_errors.GoogleAuthError,
        gcs_errors.InvalidResponse,
        gcs_errors.DataCorruption,
        requests.RequestException,
    )


def _describe(exc: BaseException) -> str:
    """An error's code and message, never the request (its headers carry the token)."""
    cause = getattr(exc, "cause", None)  # api_core's RetryError: the last error it retried
    if isinstance(cause, BaseException):
        return f"{_describe(cause)} (retried until the deadline)"
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else "")
    message = message or type(exc).__name__
    return f"{code} {message}"[:300] if code else str(message)[:300]
