"""Where the running somlier comes from, and a wheel of it for project images.

A project image runs ``somlier config run``, so it needs somlier; somlier need not be on any
index the build can reach. With ``packages.somlier: wheel`` the image gets the running somlier as
a wheel: built from its source tree (a checkout, an editable install) with ``pip wheel``, or the
very wheel file it was installed from. Hatchling builds reproducible wheels: the same sources
give the same bytes, so the layer that installs it is cached like any other.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import pipeline
from pipeline import proc
from pipeline.errors import StepFailed

DISTRIBUTION = "somlier"
_NAME = re.compile(r'^name\s*=\s*"somlier"\s*$', re.MULTILINE)


@dataclass(frozen=True)
class Origin:
    """How the running somlier was installed: from a source tree, from a wheel file, or from an
    index (``tree`` and ``wheel`` both None: only its version is known)."""

    version: str
    tree: Path | None = None
    wheel: Path | None = None

    def requirement(self) -> str:
        """A pip requirement for this somlier: its source tree, its wheel, or its version."""
        if self.tree is not None:
            return str(self.tree)
        if self.wheel is not None:
            return str(self.wheel)
        return f"{DISTRIBUTION}=={self.version}"


def source_tree(package_dir: Path) -> Path | None:
    """The source tree holding ``package_dir`` (its parent with somlier's pyproject.toml)."""
    tree = package_dir.parent
    try:
        text = (tree / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return tree if _NAME.search(text) else None


def installed_wheel(direct_url: str | None) -> Path | None:
    """The wheel file a distribution was installed from (PEP 610 ``direct_url.json``), if it
    still exists."""
    if not direct_url:
        return None
    try:
        url = str(json.loads(direct_url).get("url", ""))
    except (ValueError, AttributeError):
        return None
    parsed = urlparse(url)
    if parsed.scheme != "file" or not parsed.path.endswith(".whl"):
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_file() else None


def running() -> Origin:
    """The origin of the somlier that runs this code (the imported package, not whatever pip
    lists: with ``PYTHONPATH`` set they can differ)."""
    version = pipeline.__version__
    tree = source_tree(Path(pipeline.__file__).resolve().parent)
    if tree is not None:
        return Origin(version, tree=tree)
    try:
        direct_url = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct_url = None
    return Origin(version, wheel=installed_wheel(direct_url))


def build(origin: Origin, out_dir: Path) -> Path:
    """A wheel of ``origin`` in ``out_dir``; a StepFailed when it has none (installed from an
    index) or pip cannot build one."""
    if origin.wheel is not None:
        return origin.wheel
    if origin.tree is None:
        raise StepFailed(
            f"somlier {origin.version} was installed from an index: there is no wheel of it "
            "to put into the images; set packages.somlier: index (the build installs "
            f"somlier=={origin.version} from packages.index_url)"
        )
    # With hatchling at hand (somlier's dev extra), pip builds with it and needs no index;
    # otherwise pip fetches it into an isolated build environment, from pip's configured index.
    local = importlib.util.find_spec("hatchling") is not None
    isolation = ("--no-build-isolation",) if local else ()
    with tempfile.TemporaryDirectory(prefix="somlier-wheel-", dir=out_dir) as scratch:
        proc.run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            *isolation,
            "--wheel-dir",
            scratch,
            str(origin.tree),
        )
        found = sorted(Path(scratch).glob(f"{DISTRIBUTION}-*.whl"))
        if len(found) != 1:
            raise StepFailed(f"pip wheel {origin.tree} made {len(found)} somlier wheels, not 1")
        return found[0].replace(out_dir / found[0].name)
