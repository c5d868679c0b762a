"""What every image build is given so that pip inside it finds the project's packages and
somlier (``packages:`` in the platform settings, docs/platform.md#packages).

- Plain settings (``index_url``, ``extra_index_urls``, ``find_links``) become the build arguments
  ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL`` and ``PIP_FIND_LINKS``: they hold no credentials.
- An index URL with credentials (the variable named by ``index_url_env``, or for Cloud Build a
  Secret Manager version) is a build *secret* with the id :data:`INDEX_SECRET`: BuildKit mounts it
  for one ``RUN`` and it reaches no layer, no history entry, no label, no argument list.
- somlier: with ``somlier: wheel`` a wheel of the running somlier goes into the build context under
  :data:`WHEEL_DIR` and ``SOMLIER_REQUIREMENT`` names it; with ``somlier: index``,
  ``SOMLIER_REQUIREMENT`` is ``somlier==<running version>``.
"""

from __future__ import annotations

import functools
import io
import re
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.config.settings import Packages
from pipeline.errors import UserError
from pipeline.images import wheel
from pipeline.secret import Secret, secret

# Names, not values: the secret's id in `RUN --mount=type=secret,id=…`, and the Cloud Build
# step's variable that holds it.
INDEX_SECRET = "pip-index-url"  # noqa: S105
CLOUD_SECRET_ENV = "SOMLIER_PIP_INDEX_URL"  # noqa: S105
WHEEL_DIR = ".somlier-build"  # in the build context, beside the repository's files
WHEEL_IN_IMAGE = "/opt/somlier-build"  # where the template's Dockerfile copies WHEEL_DIR
MASK = "***"


@dataclass(frozen=True)
class BuildSecret:
    """A build secret: its value (local builders) or where Cloud Build reads it."""

    id: str
    value: Secret | None = None
    secret_manager_version: str | None = None


@dataclass(frozen=True)
class PackageInputs:
    """What each build of one run is given (the same for every project)."""

    build_args: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)  # context path -> content
    secrets: tuple[BuildSecret, ...] = ()

    @functools.cached_property
    def _redactor(self) -> Callable[[str], str]:
        return redactor(self.secrets)

    def redact(self, text: str) -> str:
        """``text`` with every secret of these inputs replaced by ``***``."""
        return self._redactor(text)


def redactor(secrets: tuple[BuildSecret, ...]) -> Callable[[str], str]:
    """Replaces each secret, and the password or token inside a secret URL, with ``***``."""
    words: list[str] = []
    for s in secrets:
        if s.value is None:
            continue
        value = s.value.reveal()
        words.append(value)
        try:
            parts = urlsplit(value)
            # the token alone too (a user name is no secret, and masking it mangles text)
            if parts.password and len(parts.password) >= 4:
                words.append(parts.password)
        except ValueError:
            pass
    if not words:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))
    return lambda text: pattern.sub(MASK, text)


def index_secret(
    settings: Packages, environ: Mapping[str, str], *, cloud: bool
) -> BuildSecret | None:
    """The index URL with credentials, if the settings give one."""
    value = secret(settings.index_url_env, environ)
    if cloud:
        if settings.index_url_secret:
            return BuildSecret(INDEX_SECRET, secret_manager_version=settings.index_url_secret)
        if value is not None:
            raise UserError(
                f"{settings.index_url_env} is set, but Cloud Build must not be sent credentials "
                "in the build request",
                hint="store the index URL in Secret Manager and name its version in "
                "packages.index_url_secret",
            )
        return None
    return BuildSecret(INDEX_SECRET, value=value) if value is not None else None


def pip_args(settings: Packages) -> dict[str, str]:
    """The plain pip settings as build arguments (only those set: an empty PIP_INDEX_URL would
    be an index URL of "")."""
    args = {
        "PIP_INDEX_URL": settings.index_url,
        "PIP_EXTRA_INDEX_URL": " ".join(settings.extra_index_urls),
        "PIP_FIND_LINKS": " ".join(settings.find_links),
    }
    return {k: v for k, v in args.items() if v}


def inputs(
    settings: Packages,
    environ: Mapping[str, str],
    *,
    cloud: bool,
    scratch: Path,
    origin: wheel.Origin | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> PackageInputs:
    """The build inputs of one run; a wheel, when asked for, is made once, in ``scratch``."""
    found = index_secret(settings, environ, cloud=cloud)
    args = pip_args(settings)
    origin = origin or wheel.running()
    files: dict[str, bytes] = {}
    if settings.somlier == "wheel" and origin.tree is None and origin.wheel is None:
        # Installed from an index: there is no wheel to pass on, but that index has somlier.
        args["SOMLIER_REQUIREMENT"] = origin.requirement()
        log(
            f"somlier {origin.version} was installed from an index and has no wheel here: the "
            f"images install {origin.requirement()} from packages.index_url"
        )
    elif settings.somlier == "wheel":
        made = wheel.build(origin, scratch)
        files[f"{WHEEL_DIR}/{made.name}"] = made.read_bytes()
        args["SOMLIER_REQUIREMENT"] = f"{WHEEL_IN_IMAGE}/{made.name}"
        log(f"somlier {origin.version}: {made.name} goes into each build context")
    else:
        args["SOMLIER_REQUIREMENT"] = f"{wheel.DISTRIBUTION}=={origin.version}"
    return PackageInputs(args, files, (found,) if found is not None else ())


def with_files(context: bytes, files: Mapping[str, bytes]) -> bytes:
    """The tar ``context`` with ``files`` added (sorted, fixed mtime: the same bytes each run)."""
    if not files:
        return context
    buffer = io.BytesIO(context)
    with tarfile.open(fileobj=buffer, mode="a", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
