"""A fake of the Slack Web API on loopback, for slack-sdk's ``WebClient(base_url=fake.api_url)``.

slack-sdk joins ``base_url`` and the method name (``https://slack.com/api/`` by default), so
:attr:`FakeSlack.api_url` ends in ``/api/``. Methods: ``chat.postMessage`` (channel by name or
id, ``thread_ts`` for replies), ``chat.update`` (channel id only, as Slack wants) and
``auth.test``. Errors come back as Slack sends them: HTTP 200 with ``{"ok": false, "error": …}``,
or 429 ``ratelimited`` with ``Retry-After``. :meth:`FakeServer.stop` makes the next call fail
with "connection refused"; :meth:`FakeServer.start` brings the same port back.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.faults import Fault
from tests.fakes.server import FakeServer, Request, Response

MAX_BLOCKS = 50
MAX_TEXT = 40000
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150


@dataclass
class Message:
    channel: str  # the channel id
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None
    thread_ts: str | None
    params: dict[str, Any]  # everything the client sent
    updates: list[dict[str, Any]] = field(default_factory=list)  # params of chat.update calls


class FakeSlack(FakeServer):
    """``token``: when given, only that token is accepted (others: ``invalid_auth``).
    ``channels``: name → id; by default one channel, ``dp_monitor_cicd``."""

    def __init__(
        self,
        *,
        token: str | None = None,
        channels: Mapping[str, str] | None = None,
        team: str = "somlier",
    ) -> None:
        super().__init__()
        self.token = token
        self.channels = (
            dict(channels) if channels is not None else {"dp_monitor_cicd": "C0DPMONCICD"}
        )
        self.team = team
        self.team_id = "T0SOMLIER01"
        self.bot_user_id = "U0SOMLIERBOT"
        self.bot_id = "B0SOMLIERBOT"
        self.messages: list[Message] = []
        self._ts_counter = 0

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # seeding and reading -----------------------------------------------------------------------

    def add_channel(self, name: str, channel_id: str | None = None) -> str:
        with self.lock:
            self.channels[name] = channel_id or f"C{len(self.channels) + 1:010d}"
            return self.channels[name]

    def channel_messages(self, channel: str) -> list[Message]:
        """Top-level messages (no thread replies) of a channel given by name or id."""
        channel_id = self.channels.get(channel.lstrip("#"), channel)
        return [m for m in self.messages if m.channel == channel_id and m.thread_ts in (None, m.ts)]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == ts and m.ts != ts]

    def calls(self, api_method: str) -> list[dict[str, Any]]:
        """Parameters of every recorded call of ``api_method``, whatever the answer was."""
        return [
            _params(r.query, r.form, r.json)
            for r in self.requests
            if r.path == f"/api/{api_method}"
        ]

    # faults ------------------------------------------------------------------------------------

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
        headers = dict(headers or {})
        if status == 429 and not any(h.lower() == "retry-after" for h in headers):
            headers["Retry-After"] = "1"  # Slack always says when to come back
        return super().inject(
            method,
            path_regex,
            status,
            times,
            headers=headers,
            body=body,
            after_success=after_success,
            delay=delay,
        )

    def inject_error(self, api_method: str, error: str, times: int | None = 1) -> Fault:
        """Answer ``api_method`` with HTTP 200 ``{"ok": false, "error": error}``."""
        return self.inject(
            "*", f"^/api/{re.escape(api_method)}$", 200, times, body={"ok": False, "error": error}
        )

    def fault_body(self, request: Request, fault: Fault) -> Any:
        if fault.status == 429:
            return {"ok": False, "error": "ratelimited"}
        if fault.status is not None and fault.status >= 500:
            return {"ok": False, "error": "fatal_error"}
        return {"ok": False, "error": "request_failed"}

    # serving -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[str | None, Response]:
        if not request.path.startswith("/api/"):
            return None, Response(404, b"Not Found", {"Content-Type": "text/plain"})
        api_method = request.path.removeprefix("/api/")
        params = _params(request.query, request.form, request.json)
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post,
            "chat.update": self._update,
        }
        handler = handlers.get(api_method)
        if handler is None:
            return None, _answer({"ok": False, "error": "unknown_method"})
        problem = self._check_token(request, params)
        if problem:
            return api_method, _answer({"ok": False, "error": problem})
        return api_method, _answer(handler(params))

    def _check_token(self, request: Request, params: dict[str, Any]) -> str | None:
        header = request.header("authorization") or ""
        token = (
            header.removeprefix("Bearer ").strip()
            if header.startswith("Bearer ")
            else params.get("token")
        )
        if not token:
            return "not_authed"
        if self.token is not None and token != self.token:
            return "invalid_auth"
        return None

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team}.slack.com/",
            "team": self.team,
            "user": "somlier",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        self._ts_counter += 1
        return f"{int(time.time())}.{self._ts_counter:06d}"

    def _content(
        self, params: dict[str, Any]
    ) -> tuple[str | None, list[Any] | None, list[Any] | None, str | None]:
        text = params.get("text") or None
        blocks = _json_list(params.get("blocks"))
        attachments = _json_list(params.get("attachments"))
        if isinstance(blocks, str) or isinstance(attachments, str):
            return (
                None,
                None,
                None,
                "invalid_blocks" if isinstance(blocks, str) else "invalid_attachments",
            )
        if not (text or blocks or attachments):
            return None, None, None, "no_text"
        if text and len(text) > MAX_TEXT:
            return None, None, None, "msg_too_long"
        if blocks and (problem := _check_blocks(blocks)):
            return None, None, None, problem
        return text, blocks, attachments, None

    def _message_shape(self, message: Message) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": message.ts,
            "bot_id": self.bot_id,
            "app_id": "A0SOMLIER01",
            "text": message.text or "",
            "team": self.team_id,
        }
        if message.blocks:
            shape["blocks"] = message.blocks
        if message.attachments:
            shape["attachments"] = message.attachments
        if message.thread_ts and message.thread_ts != message.ts:
            shape["thread_ts"] = message.thread_ts
            shape["parent_user_id"] = self.bot_user_id
        return shape

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        channel_id = self.channels.get(channel.lstrip("#"))
        if channel_id is None and channel in self.channels.values():
            channel_id = channel
        if channel_id is None:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks, attachments, problem = self._content(params)
        if problem:
            return {"ok": False, "error": problem}
        thread_ts = params.get("thread_ts") or None
        message = Message(
            channel_id,
            self._next_ts(),
            text,
            blocks,
            attachments,
            str(thread_ts) if thread_ts else None,
            params,
        )
        self.messages.append(message)
        return {
            "ok": True,
            "channel": channel_id,
            "ts": message.ts,
            "message": self._message_shape(message),
        }

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if channel not in self.channels.values():  # chat.update takes an id, not a #name
            return {"ok": False, "error": "channel_not_found"}
        found = [m for m in self.messages if m.channel == channel and m.ts == params.get("ts")]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        text, blocks, attachments, problem = self._content(params)
        if problem:
            return {"ok": False, "error": problem}
        message = found[0]
        message.text, message.blocks, message.attachments = text, blocks, attachments
        message.updates.append(params)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": text or "",
            "message": self._message_shape(message),
        }


def _answer(payload: dict[str, Any]) -> Response:
    return Response.json(200, payload)


def _params(query: dict[str, str], form: dict[str, str], body: Any) -> dict[str, Any]:
    return {**query, **form, **(body if isinstance(body, dict) else {})}


def _json_list(value: Any) -> Any:
    """Blocks and attachments arrive as lists (JSON body) or as JSON text (form body)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return "invalid"
    return value if isinstance(value, list) else "invalid"


def _check_blocks(blocks: list[Any]) -> str | None:
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return "invalid_blocks"
        text = block.get("text")
        text = text.get("text", "") if isinstance(text, dict) else ""
        if block["type"] == "section" and len(text) > MAX_SECTION_TEXT:
            return "invalid_blocks"
        if block["type"] == "header" and len(text) > MAX_HEADER_TEXT:
            return "invalid_blocks"
    return None
