"""A minimal Language Server Protocol client over stdio (JSON-RPC with Content-Length frames),
enough to ask a real language server for completions and hovers the way an editor does.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any]], Any]


class LanguageServer:
    """One server process; ``request`` waits for its answer (answering the server's own
    requests, e.g. ``workspace/configuration``, with ``on_request``)."""

    def __init__(self, argv: Sequence[str], on_request: Handler, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.on_request = on_request
        self.timeout = timeout
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                text = line.decode("ascii").strip()
                if not text:
                    break
                name, _, value = text.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                continue
            self.messages.put(json.loads(stream.read(length)))

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        mine = self._next_id
        self._send({"id": mine, "method": method, "params": params})
        while True:
            message = self.messages.get(timeout=self.timeout)
            if message is None:
                raise RuntimeError(f"the language server exited: {self.stderr()}")
            if "method" in message and "id" in message:  # the server asks something
                self._send({"id": message["id"], "result": self.on_request(message)})
            elif "method" in message:
                self.notifications.append(message)
            elif message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def open(self, path: Path, language: str = "yaml") -> str:
        uri = path.resolve().as_uri()
        document = {"uri": uri, "languageId": language, "version": 1, "text": path.read_text()}
        self.notify("textDocument/didOpen", {"textDocument": document})
        return uri

    def stderr(self) -> str:
        self.close()
        err = self.process.stderr
        return err.read().decode(errors="replace")[-2000:] if err is not None else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
