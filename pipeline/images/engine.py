"""The ``docker`` builder against the local engine (``DOCKER_HOST`` or the standard socket):
builds with host networking, streams the log, and pushes every tag. With a docker CLI that
drives BuildKit (:mod:`pipeline.images.buildkit`) the build, the tags and the push go through that
CLI and the docker SDK is not imported; otherwise the docker SDK uses the engine's classic
builder and pushes through the API."""

from __future__ import annotations

import collections
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import MissingDependency, StepFailed, UserError
from pipeline.images.job import BuildJob
from pipeline.images.packages import WHEEL_DIR
from pipeline.images.refs import ImageName
from pipeline.images.registry import Credentials, Registry

if TYPE_CHECKING:
    from pipeline.images.buildkit import BuildKitCli

LOG_TAIL = 30


@dataclass(frozen=True)
class Built:
    image_id: str
    digest: str | None  # of the pushed manifest; None when nothing was pushed
    log_tail: tuple[str, ...]


class LogTail:
    """Passes each line of a build log on to ``log`` and keeps the last :data:`LOG_TAIL` of
    them for the report (what failed, and why)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._lines: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)

    def __call__(self, line: str) -> None:
        line = line.rstrip("\n")
        if line:
            self._lines.append(line)
            self._log(line)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._lines))


def classic_context(job: BuildJob) -> tuple[bytes, str]:
    """The context and Dockerfile path for the classic builder: a Dockerfile with ``RUN
    --mount`` options (BuildKit only) gets a copy without them beside the wheel folder."""
    import tarfile

    from pipeline.images.dockerfile import without_mounts
    from pipeline.images.packages import with_files

    with tarfile.open(fileobj=io.BytesIO(job.context)) as tar:
        try:
            member = tar.extractfile(job.dockerfile)
        except KeyError:
            member = None
        text = member.read().decode("utf-8", "replace") if member is not None else ""
    stripped, count = without_mounts(text)
    if not count:
        return job.context, job.dockerfile
    path = f"{WHEEL_DIR}/Dockerfile.classic"
    return with_files(job.context, {path: stripped.encode()}), path


class BuildFailed(StepFailed):
    def __init__(self, message: str, log_tail: tuple[str, ...]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


def _client(docker_host: str | None) -> Any:
    try:
        import docker
    except ImportError:
        raise MissingDependency("docker", "docker") from None
    try:
        client = (
            docker.APIClient(base_url=docker_host, version="auto", timeout=600)
            if docker_host
            else docker.APIClient(version="auto", timeout=600)
        )
        client.ping()
    except docker.errors.DockerException as exc:
        raise UserError(
            f"no Docker engine at {docker_host or 'the default socket'}: {str(exc)[:200]}",
            hint="start one, or set DOCKER_HOST (builder.type: cloudbuild builds without one)",
        ) from None
    return client


class DockerBuilder:
    """Builds with BuildKit through ``buildkit`` (see :mod:`pipeline.images.buildkit`) when given
    one and the engine supports it, else with the engine's classic builder through the API."""

    def __init__(
        self,
        docker_host: str | None,
        credentials: Credentials | None = None,
        buildkit: BuildKitCli | None = None,
        registry: Registry | None = None,
    ) -> None:
        """``registry``: the client of the images' registry; with BuildKit, the tags after the
        first are set there instead of pushed again."""
        self._docker_host = docker_host
        self._registry = registry
        self._sdk: Any = None
        if buildkit is not None:
            from pipeline.images.buildkit import engine_supports

            # One GET /_ping: connects (a clear error when there is no engine) and says
            # whether the engine is recent enough; the SDK is not needed for that.
            if not engine_supports(buildkit.engine_api_version(docker_host)):
                buildkit = None  # an engine before 18.09: the classic builder
        self._buildkit = buildkit
        if buildkit is None:
            self._sdk = _client(docker_host)
        self._auth = (
            {"username": credentials.username, "password": credentials.password}
            if credentials is not None
            else None
        )

    @property
    def _client(self) -> Any:
        """The docker SDK's client, connected on first use (the classic builder, local tags)."""
        if self._sdk is None:
            self._sdk = _client(self._docker_host)
        return self._sdk

    def has(self, ref: str) -> bool:
        import docker

        try:
            self._client.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return False
        return True

    def tag_local(self, source: str, image: ImageName, tags: tuple[str, ...]) -> None:
        for tag in tags:
            self._client.tag(source, str(image), tag=tag)

    def build(self, job: BuildJob, log: Callable[[str], None]) -> Built:
        tail = emit = LogTail(log)
        if self._buildkit is not None:
            built = self._buildkit.build(job, emit)  # tagged with every tag
            if built is None:
                raise BuildFailed(f"the image of {job.project} did not build", tuple(tail))
            image_id = built
        else:
            image_id = self._classic_build(job, emit, tail)
            for tag in job.tags[1:]:
                self._client.tag(image_id, str(job.image), tag=tag)
        digest = None
        if job.push and job.image.registry:
            if self._buildkit is not None and self._auth is None:
                digest = self._push_cli(self._buildkit, job, emit, tail)
            else:
                digest = self._push(job, emit, tail)
        return Built(image_id, digest, tuple(tail))

    def _classic_build(self, job: BuildJob, emit: Callable[[str], None], tail: LogTail) -> str:
        if job.secrets:
            raise BuildFailed(
                "the classic builder cannot keep a build secret (the package index's "
                "credentials) out of the image's history: build with BuildKit "
                "(builder.buildkit: auto or on, with docker buildx on PATH)",
                tuple(tail),
            )
        context, dockerfile = classic_context(job)
        image_id = ""
        stream = self._client.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            dockerfile=dockerfile,
            tag=job.image.ref(job.tags[0]),
            buildargs=dict(job.build_args),
            labels=dict(job.labels),
            cache_from=list(job.cache_from) or None,
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                for line in str(chunk["stream"]).splitlines():
                    emit(line)
            if "error" in chunk:
                emit(str(chunk["error"]))
                raise BuildFailed(f"the image of {job.project} did not build", tuple(tail))
            aux = chunk.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = str(aux["ID"])
        if not image_id:
            image_id = str(self._client.inspect_image(job.image.ref(job.tags[0]))["Id"])
        return image_id

    def _push(self, job: BuildJob, emit: Callable[[str], None], tail: LogTail) -> str:
        digest = ""
        for tag in job.tags:
            started = time.monotonic()
            for chunk in self._client.push(
                str(job.image), tag=tag, stream=True, decode=True, auth_config=self._auth
            ):
                if "error" in chunk:
                    emit(str(chunk["error"]))
                    raise BuildFailed(f"pushing {job.image.ref(tag)} failed", tuple(tail))
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
            emit(f"pushed {job.image.ref(tag)} in {time.monotonic() - started:.1f}s")
        if not digest:
            raise BuildFailed(f"the registry did not report a digest for {job.image}", tuple(tail))
        return digest

    def _push_cli(
        self, cli: BuildKitCli, job: BuildJob, emit: Callable[[str], None], tail: LogTail
    ) -> str:
        """``docker push`` of the first tag (the credentials are the CLI's: the docker config);
        the others point at the same manifest registry-side when a registry client is given
        (what a cache hit does: no layer is looked at again), else are pushed one by one."""
        digest = ""
        pushes = job.tags if self._registry is None else job.tags[:1]
        for tag in pushes:
            started = time.monotonic()
            pushed = cli.push(job.image.ref(tag), emit)
            if pushed is None:
                raise BuildFailed(f"pushing {job.image.ref(tag)} failed", tuple(tail))
            digest = pushed
            emit(f"pushed {job.image.ref(tag)} in {time.monotonic() - started:.1f}s")
        if self._registry is not None:
            digest = self._retag(self._registry, job, emit, tail)
        if not digest:
            raise BuildFailed(f"the registry did not report a digest for {job.image}", tuple(tail))
        return digest

    def _retag(
        self, registry: Registry, job: BuildJob, emit: Callable[[str], None], tail: LogTail
    ) -> str:
        """Tag ``job.tags[1:]`` registry-side like ``job.tags[0]``; the registry's digest."""
        started = time.monotonic()
        try:
            manifest = registry.manifest(job.image.repository, job.tags[0])
            if manifest is None:
                raise BuildFailed(f"{job.image.ref(job.tags[0])} is not in the registry", ())
            registry.retag(job.image.repository, manifest, job.tags[1:])
        except StepFailed as exc:
            emit(exc.message)
            raise BuildFailed(exc.message, tuple(tail)) from None
        if job.tags[1:]:
            emit(
                f"tagged {', '.join(job.tags[1:])} registry-side "
                f"in {time.monotonic() - started:.1f}s"
            )
        return manifest.digest
