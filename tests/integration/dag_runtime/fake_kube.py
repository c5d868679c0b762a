"""A fake Kubernetes API server on 127.0.0.1: just the pod calls KubernetesPodOperator makes.

There is no cluster on the test machines; the operator is driven through the real kubernetes
client, over HTTP, against this. A created pod runs at once: it is stored already
``Succeeded`` (or ``Failed``, with ``exit_code``), its log is ``log``. Every request is recorded
(method, path, query, JSON body) for the tests to look at.

    with FakeKube() as kube:
        kube.kubeconfig(tmp_path / "config")   # a kubeconfig pointing here
        ...                                    # run the operator
        kube.created[0]["spec"]["containers"][0]["resources"]
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

_POD = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+)(?P<log>/log)?)?$")
_EVENTS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/events$")
STAMP = "2024-01-01T00:00:00Z"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


def _matches(labels: dict[str, str], selector: str) -> bool:
    """A label selector of ``k=v``, ``k==v``, ``k!=v``, ``k`` and ``!k`` terms."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class FakeKube:
    log: str = "hello from the job\n"
    exit_code: int = 0
    requests: list[Request] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __enter__(self) -> FakeKube:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(
                self, status: int, body: Any, content_type: str = "application/json"
            ) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append(Request(self.command, url.path, parse_qs(url.query), body))
                status, reply = fake.answer(self.command, url.path, parse_qs(url.query), body)
                if isinstance(reply, str):
                    self._reply(status, reply, "text/plain")
                else:
                    self._reply(status, reply)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    def _run(self, pod: dict[str, Any]) -> dict[str, Any]:
        """The pod as the API returns it once its one container has finished."""
        pod = json.loads(json.dumps(pod))
        meta = pod.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{len(self.created)}")
        meta.setdefault("creationTimestamp", STAMP)
        containers = pod["spec"]["containers"]
        pod["status"] = {
            "phase": "Succeeded" if self.exit_code == 0 else "Failed",
            "startTime": STAMP,
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": self.exit_code,
                            "reason": "Completed" if self.exit_code == 0 else "Error",
                            "startedAt": STAMP,
                            "finishedAt": STAMP,
                        }
                    },
                }
                for c in containers
            ],
        }
        return pod

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if _EVENTS.match(path):
            return 200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": []}
        match = _POD.match(path)
        if match is None:
            return 404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}
        ns, name, log = match["ns"], match["name"], match["log"]
        if name is None and method == "GET":
            selector = query.get("labelSelector", [""])[0]
            items = [
                p
                for (n, _), p in self.pods.items()
                if n == ns and _matches(p["metadata"].get("labels", {}), selector)
            ]
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        if name is None and method == "POST":
            pod = self._run(body)
            self.created.append(body)
            self.pods[(ns, pod["metadata"]["name"])] = pod
            return 201, pod
        pod = self.pods.get((ns, name))
        if pod is None:
            return 404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}
        if log:
            return 200, "".join(f"{STAMP} {line}\n" for line in self.log.splitlines())
        if method == "GET":
            return 200, pod
        if method == "PATCH":
            labels = ((body or {}).get("metadata") or {}).get("labels") or {}
            pod["metadata"].setdefault("labels", {}).update(labels)
            return 200, pod
        if method == "DELETE":
            del self.pods[(ns, name)]
            self.deleted.append(name)
            return 200, pod
        return 405, {"kind": "Status", "status": "Failure", "code": 405}
