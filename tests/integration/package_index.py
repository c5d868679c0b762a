"""A package index on 127.0.0.1 for image builds (``--network host``): PEP 503 simple pages over
a folder of wheels, open under ``/open/simple/`` and behind HTTP Basic auth under
``/private/simple/``. It records the credentials it was sent, so a test can tell that a secret
reached pip, and serves nothing but loopback.

The wheels: the project template's requirements and somlier's dependencies, downloaded once with
``pip download`` and cached in ``$SOMLIER_CACHE`` (the same folder as tests/integration/
test_scaffold.py's wheelhouse). PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SOMLIER_CACHE", Path.home() / ".cache" / "somlier-test"))


def cached_wheels() -> Path:
    """Every wheel a template project's image installs besides somlier, downloaded once."""
    requirements = (ROOT / "project_template" / "requirements.txt").read_bytes()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256(requirements + json.dumps(deps).encode()).hexdigest()[:16]
    cached = CACHE / f"project-wheelhouse-{key}"
    if not cached.is_dir():
        partial = cached.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        download = ("download", "--quiet", "--only-binary=:all:", "-d", str(partial))
        requirements_file = str(ROOT / "project_template" / "requirements.txt")
        done = subprocess.run(
            [sys.executable, "-m", "pip", *download, "-r", requirements_file, *deps],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip download failed:\n{done.stdout}{done.stderr}")
        partial.rename(cached)
    return cached


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Index:
    url: str  # http://127.0.0.1:PORT
    user: str
    token: str
    seen_credentials: list[str] = field(default_factory=list)  # decoded user:password sent
    requests: list[str] = field(default_factory=list)

    @property
    def open_url(self) -> str:
        return f"{self.url}/open/simple/"

    @property
    def private_url(self) -> str:
        """The private index's URL with its credentials, as a platform team would store it."""
        host = self.url.removeprefix("http://")
        return f"http://{self.user}:{self.token}@{host}/private/simple/"


@contextmanager
def serve(folder: Path, user: str, token: str) -> Iterator[Index]:
    """Serve the wheels of ``folder`` until the block ends."""
    wheels = {p.name: p for p in folder.glob("*.whl")}
    projects: dict[str, list[str]] = {}
    for name in wheels:
        projects.setdefault(normalize(name.split("-", 1)[0]), []).append(name)
    expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    index = Index("", user, token)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, code: int, body: bytes, kind: str = "text/html") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if code == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            index.requests.append(self.path)
            area, _, rest = self.path.lstrip("/").partition("/")
            if area not in ("open", "private"):
                return self._send(404, b"")
            if area == "private":
                sent = self.headers.get("Authorization", "")
                if sent.startswith("Basic "):
                    index.seen_credentials.append(base64.b64decode(sent[6:]).decode())
                if sent != expected:
                    return self._send(401, b"")
            parts = [p for p in rest.split("/") if p]
            if parts[:1] == ["files"] and len(parts) == 2 and parts[1] in wheels:
                return self._send(200, wheels[parts[1]].read_bytes(), "application/octet-stream")
            if parts == ["simple"]:
                links = "".join(f'<a href="{p}/">{p}</a>' for p in sorted(projects))
                return self._send(200, f"<html><body>{links}</body></html>".encode())
            if len(parts) == 2 and parts[0] == "simple" and normalize(parts[1]) in projects:
                links = "".join(
                    f'<a href="../../files/{html.escape(n)}">{html.escape(n)}</a>'
                    for n in sorted(projects[normalize(parts[1])])
                )
                return self._send(200, f"<html><body>{links}</body></html>".encode())
            return self._send(404, b"")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
