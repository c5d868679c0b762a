"""The HTTP machinery under every fake: a loopback server, request recording, fault injection.

Subclasses implement :meth:`FakeServer.handle` (a parsed request in, a route name and a response
out) and :meth:`FakeServer.fault_body` (what an injected error says when the test gave no body).

The server speaks HTTP/1.0: one request per connection. That keeps :meth:`FakeServer.stop`
honest: once stopped, the next request of any client is refused, with no pooled keep-alive
connection left to answer it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.faults import Fault, FaultPlan

HOST = "127.0.0.1"
_Server = TypeVar("_Server", bound="FakeServer")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})


@dataclass(frozen=True)
class Request:
    """One incoming request, parsed."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names, Authorization included: handlers need it
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    bad_json: bool = False  # a JSON content type whose body does not parse

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload).encode()
        return cls(
            status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        )

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class RecordedRequest:
    """What a client sent and what it got back. ``headers`` never hold Authorization."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    form: dict[str, str]
    route: str | None
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    fault: Fault | None = None

    @property
    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None


def _encode(body: Any) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json; charset=utf-8"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up (a timeout test): nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"

    def _any(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeServer:
    """A loopback HTTP server (``127.0.0.1``, port chosen by the OS) run in a thread.

    Use as a context manager, or call :meth:`start` / :meth:`stop`. After :meth:`stop`,
    :attr:`url` still names the old port, so clients get "connection refused"; :meth:`start`
    binds the same port again.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself
        self._faults = FaultPlan()
        self._port = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} was never started")
        return f"http://{HOST}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self: _Server) -> _Server:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((HOST, self._port), _Handler)
        httpd.fake = self
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # faults ----------------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        times: int | None = 1,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        after_success: bool = False,
        delay: float = 0.0,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (see :mod:`faults`).

        ``method`` is an HTTP method or ``"*"``; ``path_regex`` is searched in the path.
        ``body``: JSON-able, ``str`` or ``bytes``; ``None`` gives the service's usual error body.
        """
        return self._faults.add(
            Fault(
                method, path_regex, status, times, dict(headers or {}), body, after_success, delay
            )
        )

    @property
    def faults(self) -> list[Fault]:
        return self._faults.all()

    def clear_faults(self) -> None:
        self._faults.clear()

    # for subclasses ---------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[str | None, Response]:
        """Route and answer one request; called with :attr:`lock` held."""
        raise NotImplementedError

    def fault_body(self, request: Request, fault: Fault) -> Any:
        return {"error": f"injected {fault.status}"}

    def finish(self, request: Request, response: Response) -> Response:
        """Last touch on every response (headers every answer carries)."""
        return response

    # serving ---------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        try:
            request = self._parse(handler)
            route, response, fault = self._answer(request)
        except Exception:  # a bug in the fake: answer 500 and keep it for the test to see
            self.errors.append(traceback.format_exc())
            request = Request(handler.command, handler.path, {}, {}, b"")
            route, response, fault = None, Response(500, b"fake server bug"), None
        with self.lock:
            response = self.finish(request, response)
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.query,
                    headers={k: v for k, v in request.headers.items() if k not in _SECRET_HEADERS},
                    body=request.body,
                    json=request.json,
                    form=request.form,
                    route=route,
                    status=response.status,
                    response_headers=dict(response.headers),
                    response_body=response.body,
                    fault=fault,
                )
            )
        handler.send_response(response.status)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        if request.method != "HEAD":
            handler.wfile.write(response.body)

    def _answer(self, request: Request) -> tuple[str | None, Response, Fault | None]:
        fault = self._faults.take(request.method, request.path, after_success=False)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status is not None:
                return None, self._fault_response(request, fault), fault
        with self.lock:
            route, response = self.handle(request)
        if response.ok and self._faults.peek(request.method, request.path, after_success=True):
            after = self._faults.take(request.method, request.path, after_success=True)
            if after is not None:
                time.sleep(after.delay)
                if after.status is not None:
                    return route, self._fault_response(request, after), after
        return route, response, fault

    def _fault_response(self, request: Request, fault: Fault) -> Response:
        assert fault.status is not None
        body = fault.body if fault.body is not None else self.fault_body(request, fault)
        data, content_type = _encode(body)
        return Response(fault.status, data, {"Content-Type": content_type, **fault.headers})

    @staticmethod
    def _parse(handler: _Handler) -> Request:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        content_type = headers.get("content-type", "")
        payload: Any = None
        form: dict[str, str] = {}
        bad_json = False
        if body and "json" in content_type:
            try:
                payload = json.loads(body)
            except ValueError:
                bad_json = True
        elif body and "x-www-form-urlencoded" in content_type:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        return Request(
            method=handler.command,
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            json=payload,
            form=form,
            bad_json=bad_json,
        )
