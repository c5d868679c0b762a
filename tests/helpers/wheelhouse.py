"""A test fixture, not how the platform ships somlier: a find-links page on 127.0.0.1 holding a
wheel of *this checkout's* somlier and the wheels of its dependencies, so that an image built on
the test engine from the project template's Dockerfile installs the somlier under test, with no
package index reachable from the build (``PIP_INDEX_URL`` points at a 404).

``somlier_wheel(out)``          a wheel built from the checkout (``pip wheel --no-deps``)
``cached_wheels(requirements)`` those requirements' wheels, downloaded once into $SOMLIER_CACHE
``serve(folder)``               a context manager: ``http://127.0.0.1:PORT`` serving ``folder``
``build_args(url)``             the ``--build-arg``s that make the template's pip use only it

Test modules import it: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SOMLIER_CACHE", Path.home() / ".cache" / "somlier-test"))


def _pip(*args: str | Path, timeout: float) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip {' '.join(map(str, args))} failed:\n{done.stdout}{done.stderr}")


def somlier_wheel(out: Path) -> Path:
    _pip("wheel", "--no-deps", "--quiet", "-w", out, ROOT, timeout=600)
    return next(out.glob("somlier-*.whl"))


def somlier_dependencies() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])


def cached_wheels(requirements: Sequence[str]) -> Path:
    """A folder of binary wheels for ``requirements`` (and theirs), made once per set."""
    key = hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()[:16]
    cached = CACHE / f"wheels-{key}"
    if not cached.is_dir():
        partial = cached.with_name(f"{cached.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        _pip(
            "download", "--quiet", "--only-binary=:all:", "-d", partial, *requirements, timeout=1200
        )
        try:
            partial.rename(cached)
        except OSError:  # another run made it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return cached


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def link_all(dest: Path, *folders_or_files: Path) -> Path:
    """``dest`` with a symlink to every wheel given (folders: each wheel in them)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in folders_or_files:
        for wheel in sorted(item.glob("*.whl")) if item.is_dir() else [item]:
            (dest / wheel.name).symlink_to(wheel)
    return dest


def build_args(url: str) -> list[str]:
    """No index but the wheelhouse: a 404 at ``/no-index/`` means "no such project"."""
    return [
        "--build-arg",
        f"PIP_INDEX_URL={url}/no-index/",
        "--build-arg",
        f"PIP_FIND_LINKS={url}/",
    ]
