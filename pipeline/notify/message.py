"""A notification: plain text for the console and fallbacks, Block Kit for Slack (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    title: str
    lines: tuple[str, ...] = ()
    ok: bool = True
    link: str | None = None  # e.g. the PR or the run
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        head = f"{'✅' if self.ok else '❌'} {self.title}"
        body = "\n".join(self.lines)
        return f"{head}\n{body}" if body else head

    def blocks(self) -> list[dict[str, Any]]:
        title = f"{'✅' if self.ok else '❌'} {self.title}"
        title = f"<{self.link}|{_escape(title)}>" if self.link else _escape(title)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": title[:3000]}}
        ]
        if self.fields:
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*{_escape(k)}*\n{_escape(v)}"[:2000]}
                        for k, v in self.fields[:10]
                    ],
                }
            )
        if self.lines:
            body = "\n".join(_escape(line) for line in self.lines)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
        return blocks


def _escape(text: str) -> str:
    """Slack's mrkdwn escaping: &, < and > only."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
