"""Slack through slack-sdk: retries on 429 (honouring Retry-After) and 5xx, and an outage is a
warning, never a failed pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.errors import MissingDependency
from pipeline.notify.message import Message
from pipeline.secret import Secret

MAX_RETRIES = 3


class SlackNotifier:
    def __init__(
        self,
        token: Secret,
        channel: str,
        *,
        base_url: str | None = None,
        warn: Callable[[str], None],
    ) -> None:
        try:
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import (
                ConnectionErrorRetryHandler,
                RateLimitErrorRetryHandler,
                ServerErrorRetryHandler,
            )
        except ImportError:
            raise MissingDependency("slack_sdk", "slack") from None
        kwargs: dict[str, Any] = {"token": token.reveal(), "timeout": 15}
        if base_url:
            kwargs["base_url"] = base_url
        self._client = WebClient(**kwargs)
        self._client.retry_handlers.extend(
            [
                RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
                ServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
                ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
            ]
        )
        self.channel = channel
        self._warn = warn

    def post(self, message: Message, thread: str | None = None) -> str | None:
        """Post ``message`` (as a reply in ``thread`` when given); return its ts, or None after
        a warning when Slack cannot take it."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            answer = self._client.chat_postMessage(
                channel=self.channel,
                text=message.text,
                blocks=message.blocks(),
                thread_ts=thread,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
            self._warn(f"Slack did not take the message for {self.channel}: {error}")
            return None
        except (SlackClientError, OSError) as exc:
            self._warn(
                f"Slack is unreachable, message for {self.channel} not sent: {type(exc).__name__}"
            )
            return None
        ts = answer.get("ts")
        return str(ts) if ts else None


class ConsoleNotifier:
    """The embedded default: the message goes to the console."""

    channel = "console"

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def post(self, message: Message, thread: str | None = None) -> str | None:
        self._write(message.text)
        return None
