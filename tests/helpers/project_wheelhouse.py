"""What a project image installs, served on 127.0.0.1 for builds on the test engine: the
``somlier_wheel`` fixture (a wheel of this checkout) and ``wheelhouse`` (a find-links page with the
template's requirements and somlier's dependencies, downloaded once and cached, and that wheel),
made with :mod:`tests.helpers.wheelhouse`. Registered for the whole suite by tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wheelhouse as wheels


@pytest.fixture(scope="session")
def somlier_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheels.somlier_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def wheelhouse(somlier_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A find-links page on 127.0.0.1 with every wheel the project image installs. The build
    reaches it through the host network; nothing else."""
    template = wheels.ROOT / "project_template" / "requirements.txt"
    requirements = [
        line.strip()
        for line in template.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    cached = wheels.cached_wheels([*requirements, *wheels.somlier_dependencies()])
    served = wheels.link_all(tmp_path_factory.mktemp("wheelhouse"), cached, somlier_wheel)
    with wheels.serve(served) as url:
        yield url
