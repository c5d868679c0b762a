"""What a project image installs, served on 127.0.0.1 for builds on the test engine: the
``somlier_wheel`` fixture (a wheel of this checkout) and ``wheelhouse`` (a find-links page with the
template's requirements and somlier's dependencies, downloaded once and cached, and that wheel).
Registered for the whole suite by tests/conftest.py."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SOMLIER_CACHE", Path.home() / ".cache" / "somlier-test"))


def run(*argv: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (
        f"{done.args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done


@pytest.fixture(scope="session")
def somlier_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    ok(run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, ROOT, cwd=ROOT))
    return next(out.glob("somlier-*.whl"))


@pytest.fixture(scope="session")
def wheelhouse(somlier_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A find-links page on 127.0.0.1 with every wheel the project image installs: the
    template's requirements and somlier's dependencies (downloaded once, cached), and this
    checkout's somlier. The build reaches it through the host network; nothing else."""
    requirements = (ROOT / "project_template" / "requirements.txt").read_bytes()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256(requirements + json.dumps(deps).encode()).hexdigest()[:16]
    cached = CACHE / f"project-wheelhouse-{key}"
    if not cached.is_dir():
        partial = cached.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        requirements_file = ROOT / "project_template" / "requirements.txt"
        download = ("download", "--quiet", "--only-binary=:all:", "-d", partial)
        pip = (sys.executable, "-m", "pip", *download, "-r", requirements_file, *deps)
        ok(run(*pip, cwd=ROOT, timeout=1200))
        partial.rename(cached)
    served = tmp_path_factory.mktemp("wheelhouse")
    for wheel in [*cached.iterdir(), somlier_wheel]:
        (served / wheel.name).symlink_to(wheel)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(served), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
