"""Checks made on every request before any route runs (pure ASGI middleware, so they hold for
FastAPI's own body parsing too):

- :class:`BodyLimit`: the body is read here, counted as it arrives, and refused with 413 as
  soon as it passes the route's limit (at once when ``Content-Length`` says it will): no more
  than the limit is ever held in memory, and no signature or token is checked for it.
- :class:`LoopbackHosts`: without authentication (``somlier api --no-auth``) only loopback
  ``Host`` values are served, so a web page that rebinds its DNS name to 127.0.0.1 cannot
  drive the API from a developer's browser.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from pipeline.errors import clipped

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
DEFAULT_BODY_LIMIT = 64 * KIB  # POST /deploy's body is a few hundred bytes
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


shown = clipped  # the name the server's modules use


async def _problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "errors": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _size(limit: int) -> str:
    return f"{limit // (KIB * KIB)} MiB" if limit >= KIB * KIB else f"{limit // KIB} KiB"


class BodyLimit:
    """Refuse bodies past ``limits[path]`` (else ``default``) bytes with 413."""

    def __init__(self, app: ASGIApp, *, limits: Mapping[str, int], default: int) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope.get("path", ""), self.default)
        too_large = f"the body is larger than this endpoint takes ({_size(limit)})"
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _problem(send, 413, too_large)  # refused before a byte of it is read
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
                await _problem(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def loopback_host(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback (with or without a port)."""
    if not host:
        return False
    if host.startswith("["):
        name, bracket, port = host.partition("]")
        name += bracket
        if port and not port.startswith(":"):
            return False
        port = port[1:]
    else:
        name, colon, port = host.partition(":")
        if colon and not port:
            return False
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return False
    return name.lower() in LOOPBACK_NAMES


class LoopbackHosts:
    """Refuse (421) every request whose ``Host`` is not a loopback name, when ``enabled``."""

    def __init__(self, app: ASGIApp, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["type"] == "http":
            host = _header(scope, b"host")
            if not loopback_host(host):
                await _problem(
                    send,
                    421,
                    f"Host {shown(host or '')!r} is refused: without authentication this server "
                    "answers only http://127.0.0.1, http://localhost or http://[::1]",
                )
                return
        await self.app(scope, receive, send)
