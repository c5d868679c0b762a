"""Reports of an image step: the PR comment, the job summary, Actions outputs and the Slack
message, all rendered from the same outcomes (pure: no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.build.outcome import Outcome
from pipeline.notify.message import Message

MARKER = "<!-- somlier:build-report -->"
_TAIL_LINES = 15


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: Sequence[Outcome], *, title: str, api_calls: int | None = None) -> str:
    """A markdown report: one row per project, then the log tail of every failure."""
    lines = [f"### {title}", ""]
    if not outcomes:
        lines.append("No project changed: nothing to build.")
    else:
        lines += [
            "| project | result | image | tags | digest | time |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for o in outcomes:
            result = ("✅ cache hit" if o.cache_hit else "✅ built") if o.ok else "❌ failed"
            digest = f"`{o.digest[:19]}…`" if o.digest else "—"
            tags = ", ".join(f"`{t}`" for t in o.tags)
            lines.append(
                f"| {_cell(o.project)} | {result} | `{_cell(o.image)}` | {tags} | "
                f"{digest} | {o.seconds:.1f}s |"
            )
        for o in outcomes:
            if o.ok:
                continue
            lines += [
                "",
                f"<details><summary>{_cell(o.project)}: {_cell(o.error)}</summary>",
                "",
                "```text",
                *o.log_tail[-_TAIL_LINES:],
                "```",
                "</details>",
            ]
    if api_calls is not None:
        lines += ["", f"<sub>GitHub API calls this run: {api_calls}</sub>"]
    return "\n".join(lines) + "\n"


def comment(outcomes: Sequence[Outcome], *, title: str, slack_thread: str | None = None) -> str:
    """The PR comment: the markdown report plus the hidden marker (and the Slack thread)."""
    hidden = MARKER + (f"\n<!-- somlier:slack-thread {slack_thread} -->" if slack_thread else "")
    return markdown(outcomes, title=title) + "\n" + hidden + "\n"


def slack_thread_of(body: str) -> str | None:
    """The Slack thread recorded in an earlier PR comment, so later runs reply in it."""
    prefix = "<!-- somlier:slack-thread "
    start = body.find(prefix)
    if start < 0:
        return None
    end = body.find(" -->", start)
    value = body[start + len(prefix) : end].strip()
    return value if value.replace(".", "").isdigit() else None


def slack(outcomes: Sequence[Outcome], *, title: str, link: str | None) -> Message:
    ok = all(o.ok for o in outcomes)
    lines = []
    for o in outcomes:
        if o.ok:
            how = "cache hit" if o.cache_hit else f"built in {o.seconds:.0f}s"
            lines.append(f"• {o.project}: {o.refs[0]} ({how})")
        else:
            lines.append(f"• {o.project}: FAILED: {o.error}")
    return Message(title=title, lines=tuple(lines) or ("nothing to build",), ok=ok, link=link)


def images_json(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The images pushed or reused (``--json``'s ``images`` and the ``images`` output)."""
    return [
        {
            "project": o.project,
            "image": o.image,
            "tags": list(o.tags),
            "digest": o.digest,
            "pinned": o.pinned,
            "cache_hit": o.cache_hit,
        }
        for o in outcomes
        if o.ok
    ]


def outputs(outcomes: Sequence[Outcome]) -> dict[str, str]:
    """GitHub Actions step outputs: ``images`` (JSON), ``failed`` (JSON), ``ok``."""
    failed = [o.project for o in outcomes if not o.ok]
    return {
        "images": json.dumps(images_json(outcomes)),
        "failed": json.dumps(failed),
        "ok": "true" if not failed else "false",
    }


def github_output_lines(values: dict[str, str]) -> str:
    """``GITHUB_OUTPUT`` syntax; multi-line safe with a delimiter no value contains."""
    out = []
    for key, value in values.items():
        if "\n" in value:
            delimiter = "somlier_EOF"
            while delimiter in value:
                delimiter += "_"
            out.append(f"{key}<<{delimiter}\n{value}\n{delimiter}")
        else:
            out.append(f"{key}={value}")
    return "\n".join(out) + "\n"
