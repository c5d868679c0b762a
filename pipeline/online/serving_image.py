"""The serving image of one model version: ``<registry>/<prefix>model-serving:<model>-v<version>``.

When the registry already has the tag, its digest is used and nothing is built (a model
version's files never change). Otherwise the BentoML bundle is staged
(:func:`pipeline.online.bento.stage_bundle`), its requirements are turned into wheels on this
machine (``pip wheel``, cached by the requirements' hash, with this machine's pip configuration),
the Dockerfile is rendered from ``deploy_templates/serving/Dockerfile.j2``, and the context is
built and pushed by the configured builder (:mod:`pipeline.images`). The Deployment refers to the
pushed manifest by digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline import proc
from pipeline.config.settings import PlatformSettings
from pipeline.errors import StepFailed, UserError
from pipeline.images.job import BuildJob
from pipeline.images.refs import ImageName
from pipeline.online.request import DeployRequest
from pipeline.render import Quoted, render

if TYPE_CHECKING:
    from pipeline.images.registry import Registry
    from pipeline.online.bento import Bundle
    from pipeline.steps.images import Builder

REPOSITORY = "model-serving"
DOCKERFILE = "deploy_templates/serving/Dockerfile.j2"
_TAG_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

Status = Literal["exists", "built", "planned"]


@dataclass(frozen=True)
class ServingImage:
    image: str  # registry/repository, no tag
    tag: str
    digest: str | None  # None only for a dry run before the first build
    status: Status

    @property
    def reference(self) -> str:
        """``image@digest``, what the Deployment runs (``image:tag`` for a planned image)."""
        return f"{self.image}@{self.digest}" if self.digest else f"{self.image}:{self.tag}"

    def to_json(self) -> dict[str, str | None]:
        return {
            "image": self.image,
            "tag": self.tag,
            "digest": self.digest,
            "status": self.status,
            "reference": self.reference,
        }


def image_name(settings: PlatformSettings) -> ImageName:
    if not settings.registry.url:
        raise UserError(
            "serving on Kubernetes needs a registry the cluster can pull from",
            hint="set registry.url in .somlier/platform.yaml (or SOMLIER__REGISTRY__URL)",
        )
    return ImageName.parse(settings.registry.url, settings.registry.image_prefix + REPOSITORY)


def tag_for(model_name: str, version: str) -> str:
    """``<model>-v<version>``; the model name is already checked by :class:`DeployRequest`."""
    tag = f"{model_name}-v{version}"
    if len(tag) > 128 or any(c not in _TAG_CHARS for c in tag):
        raise UserError(f"{tag!r} cannot be an image tag", hint="shorten the model name")
    return tag


def dockerfile(bundle: Bundle, port: int) -> str:
    command = ["bentoml", "serve", bundle.service, "--host", "0.0.0.0", "--port", str(port)]  # noqa: S104
    values = {"port": Quoted(str(int(port))), "command": Quoted(json.dumps(command))}
    return render(DOCKERFILE, v=values)


def wheelhouse(requirements: tuple[str, ...], python_version: str, cache: Path) -> Path:
    """Wheels for ``requirements`` built by this machine's pip (its index, find-links and
    constraints apply), kept in ``cache/<hash>`` so the next build of any model with the same
    requirements skips this."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python_version != here:
        raise UserError(
            f"the model's bundle needs Python {python_version}, this is Python {here}",
            hint="run somlier with the Python version the serving image uses",
        )
    text = "\n".join(requirements) + "\n"
    key = hashlib.sha256(f"{here}\n{text}".encode()).hexdigest()[:16]
    folder = cache / key
    if (folder / ".complete").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cache))
    try:
        (partial / "requirements.txt").write_text(text, encoding="utf-8")
        proc.run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(partial),
            "-r",
            str(partial / "requirements.txt"),
        )
        (partial / ".complete").write_text("", encoding="utf-8")
        if folder.exists():  # another run finished first
            shutil.rmtree(partial)
        else:
            partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def context_tar(bundle: Bundle, wheels: Path, dockerfile_text: str) -> bytes:
    """The build context: ``Dockerfile``, ``bundle/``, ``wheels/`` (owned by root, 0644/0755,
    no timestamps: equal inputs, equal tarball)."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = dockerfile_text.encode()
        info = clean(tarfile.TarInfo("Dockerfile"))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(bundle.root, arcname="bundle", filter=clean)
        for wheel in sorted(wheels.glob("*.whl")):
            tar.add(wheel, arcname=f"wheels/{wheel.name}", filter=clean)
    return buffer.getvalue()


def ensure_image(
    request: DeployRequest,
    *,
    settings: PlatformSettings,
    registry: Registry | None,
    builder_factory: Callable[[], Builder] | None,
    stage: Callable[[Path], Bundle],
    port: int,
    workdir: Path,
    wheel_cache: Path,
    dry_run: bool,
    echo: Callable[[str], None],
) -> ServingImage:
    """The serving image of ``request``: found in the registry, or built and pushed (for a dry
    run: planned, nothing staged or built). ``stage(folder)`` writes the bundle."""
    name = image_name(settings)
    tag = tag_for(request.model_name, str(request.model_version))
    if registry is None:
        raise UserError(f"no registry client for {name.registry}", hint="check registry.url")
    found = registry.digest(name.repository, tag)
    if found:
        echo(f"image {name.ref(tag)} exists ({found}): not rebuilt")
        return ServingImage(str(name), tag, found, "exists")
    if dry_run:
        echo(f"image {name.ref(tag)} would be built and pushed")
        return ServingImage(str(name), tag, None, "planned")
    if builder_factory is None:
        raise UserError("no image builder configured", hint="set builder.type")
    builder = builder_factory()  # fails plainly when there is no engine, before any staging
    workdir.mkdir(parents=True, exist_ok=True)
    wheel_cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="serving-image-", dir=workdir))
    try:
        bundle = stage(scratch / "bundle")
        echo(f"wheels for {len(bundle.requirements)} requirement(s) of the bundle")
        wheels = wheelhouse(bundle.requirements, bundle.python_version, wheel_cache)
        job = BuildJob(
            project=request.model_name,
            image=name,
            tags=(tag,),
            context=context_tar(bundle, wheels, dockerfile(bundle, port)),
            dockerfile="Dockerfile",
            build_args={"BASE_IMAGE": settings.builder.base_image},
            labels={
                "org.opencontainers.image.title": request.model_name,
                "org.opencontainers.image.version": str(request.model_version),
                "dev.somlier.model": request.model_name,
                "dev.somlier.model-version": str(request.model_version),
            },
            push=True,
        )
        echo(f"building {name.ref(tag)}")
        built = builder.build(job, echo)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not built.digest:
        raise StepFailed(f"{name.ref(tag)} was built but the registry reported no digest")
    return ServingImage(str(name), tag, built.digest, "built")
