"""The image step: for each project, find its sources, its tags, and either reuse an image the
registry already has for the same sources (retagged registry-side) or build and push one.

Projects build in parallel (bounded); a failure fails its project only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.config.model import ProjectConfig
from pipeline.config.settings import PlatformSettings
from pipeline.errors import SomlierError
from pipeline.images import context as sources
from pipeline.images.engine import BuildFailed, Built
from pipeline.images.job import BuildJob
from pipeline.images.outcome import Outcome
from pipeline.images.packages import PackageInputs, with_files
from pipeline.images.refs import BuildContext, ImageName, cache_sources, tags_for
from pipeline.images.registry import Registry
from pipeline.monorepo.globs import GlobIndex

Log = Callable[[str, str], None]  # (project, line)


class Builder(Protocol):
    def has(self, ref: str) -> bool: ...
    def tag_local(self, source: str, image: ImageName, tags: tuple[str, ...]) -> None: ...
    def build(self, job: BuildJob, log: Callable[[str], None]) -> Built: ...


@dataclass(frozen=True)
class Planned:
    """One project's image, decided before anything is built."""

    config: ProjectConfig
    folder: str  # repository-relative
    image: ImageName
    tags: tuple[str, ...]
    files: tuple[sources.SourceFile, ...]
    source_hash: str

    @property
    def source_tag(self) -> str:
        return self.tags[0]


def plan(
    root: Path,
    rev: str,
    projects: Sequence[tuple[str, ProjectConfig]],
    settings: PlatformSettings,
    context: BuildContext,
    files: Sequence[sources.SourceFile] | None = None,
) -> list[Planned]:
    """Sources, image name and tags of each ``(folder, config)`` (``files``: ``rev``'s files)."""
    every = list(files) if files is not None else sources.tracked_files(root, rev)
    global_paths = GlobIndex((p, True) for p in settings.monorepo.global_paths)
    shared = [f.path for f in every if any(True for _ in global_paths.matches(f.path))]
    planned = []
    for folder, config in projects:
        depends = GlobIndex((p, True) for p in config.project.depends_on)
        extra = shared + [
            f.path for f in every if depends and any(True for _ in depends.matches(f.path))
        ]
        chosen = tuple(sources.select(every, folder, extra))
        digest = sources.source_hash(chosen)
        name = settings.registry.image_prefix + config.project.docker.name
        planned.append(
            Planned(
                config=config,
                folder=folder,
                image=ImageName.parse(settings.registry.url, name),
                tags=tags_for(digest, context, config.project.docker.tags),
                files=chosen,
                source_hash=digest,
            )
        )
    return planned


class ImageStep:
    def __init__(
        self,
        root: Path,
        rev: str,
        settings: PlatformSettings,
        context: BuildContext,
        builder_factory: Callable[[], Builder],
        registry: Registry | None,
        log: Log,
        source_url: str = "",
        packages: PackageInputs | Callable[[], PackageInputs] | None = None,
    ) -> None:
        """``packages``: what every build is given for pip (docs/platform.md#packages), or a
        function that makes it, called once, at the first build (a cache hit needs none)."""
        self.root = root
        self.rev = rev
        self.settings = settings
        self.context = context
        self._factory = builder_factory
        self._local = threading.local()
        self.registry = registry
        self.log = log
        self.source_url = source_url
        self._packages = packages
        self._packages_lock = threading.Lock()
        self._packages_error: SomlierError | None = None
        self._redact: Callable[[str], str] = lambda text: text

    def packages(self) -> PackageInputs:
        """The package inputs of this run, made on first use (by one thread)."""
        with self._packages_lock:
            if self._packages_error is not None:
                raise self._packages_error  # each project fails with it; made once
            if callable(self._packages):
                try:
                    made = self._packages()
                except SomlierError as exc:
                    self._packages_error = exc
                    raise
                self._packages = made
                self._redact = made.redact
            if self._packages is None:
                self._packages = PackageInputs()
            return self._packages

    def _builder(self) -> Builder:
        builder: Builder | None = getattr(self._local, "builder", None)
        if builder is None:
            builder = self._local.builder = self._factory()
        return builder

    def run(self, planned: Sequence[Planned]) -> list[Outcome]:
        workers = max(1, min(self.settings.builder.parallelism, len(planned)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
            return list(pool.map(self._one, planned))

    def _one(self, item: Planned) -> Outcome:
        started = time.monotonic()

        def outcome(ok: bool, **details: Any) -> Outcome:
            return Outcome(
                project=item.config.name,
                path=item.folder,
                image=str(item.image),
                tags=item.tags,
                ok=ok,
                seconds=time.monotonic() - started,
                **details,
            )

        try:
            hit, digest = self._reuse(item)
            if hit:
                return outcome(
                    True, cache_hit=True, digest=digest, pushed=self.registry is not None
                )
            built = self._build(item)
            tail = tuple(self._redact(line) for line in built.log_tail)
            return outcome(
                True, digest=built.digest, log_tail=tail, pushed=built.digest is not None
            )
        except BuildFailed as exc:
            tail = tuple(self._redact(line) for line in exc.log_tail)
            return outcome(False, error=self._redact(exc.message), log_tail=tail)
        except SomlierError as exc:
            return outcome(False, error=self._redact(exc.message))

    def _reuse(self, item: Planned) -> tuple[bool, str | None]:
        """Whether an image built before from the same sources exists (it now carries every
        tag), and its registry digest (None for an image of the local engine)."""
        if self.registry is not None:
            found = self.registry.manifest(item.image.repository, item.source_tag)
            if found is None:
                return False, None
            self.log(item.config.name, f"cache hit: {item.image.ref(item.source_tag)}")
            self.registry.retag(item.image.repository, found, item.tags[1:])
            return True, found.digest
        ref = item.image.ref(item.source_tag)
        builder = self._builder()
        if not builder.has(ref):
            return False, None
        self.log(item.config.name, f"cache hit (local engine): {ref}")
        builder.tag_local(ref, item.image, item.tags[1:])
        return True, None

    def _build(self, item: Planned) -> Built:
        dockerfile = f"{item.folder}/Dockerfile" if item.folder else "Dockerfile"
        if not (self.root / dockerfile).is_file():
            raise BuildFailed(f"no Dockerfile in {item.folder or 'the repository root'}/", ())
        cache_from = cache_sources(item.image, self.context) if self.registry else ()
        packages = self.packages()
        redact = packages.redact
        job = BuildJob(
            project=item.config.name,
            image=item.image,
            tags=item.tags,
            context=with_files(sources.tarball(self.root, self.rev, item.files), packages.files),
            dockerfile=dockerfile,
            build_args={
                **packages.build_args,
                "BASE_IMAGE": self.settings.builder.base_image,
                "PROJECT_DIR": item.folder or ".",
            },
            secrets=packages.secrets,
            labels={
                key: value
                for key, value in {
                    "org.opencontainers.image.title": item.config.name,
                    "org.opencontainers.image.revision": self.context.sha,
                    "org.opencontainers.image.source": self.source_url,
                    "dev.somlier.source-hash": item.source_hash,
                }.items()
                if value
            },
            cache_from=cache_from,
            push=self.registry is not None,
        )
        self.log(item.config.name, f"building {item.image.ref(item.source_tag)}")
        return self._builder().build(job, lambda line: self.log(item.config.name, redact(line)))
