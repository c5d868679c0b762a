"""Reports of an image step: the PR comment, the job summary, Actions outputs and the Slack
message, all rendered from the same outcomes (pure: no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.images.outcome import Outcome
from pipeline.notify.message import Message

MARKER = "<!-- somlier:build-report -->"
_TAIL_LINES = 15
SUMMARY_LIMIT = 900_000  # GitHub keeps 1 MiB of job summary per step
COMMENT_LIMIT = 60_000  # GitHub refuses a comment over 65,536 characters
SLACK_LINES_UP_TO = 50


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    outcomes: Sequence[Outcome],
    *,
    title: str,
    api_calls: int | None = None,
    limit: int = SUMMARY_LIMIT,
) -> str:
    """A markdown report: one row per project, then the log tail of every failure. Past
    ``limit`` characters (a matrix build of thousands of projects) the failures come first, and
    the rows that do not fit are counted in one line instead."""
    head = [f"### {title}", ""]
    tail = (
        ["", f"<sub>GitHub API calls this run: {api_calls}</sub>"] if api_calls is not None else []
    )
    if not outcomes:
        return "\n".join([*head, "No project changed: nothing to build.", *tail]) + "\n"
    details = [line for block in _details(outcomes) for line in block]
    full = "\n".join([*head, *_rows(outcomes), *details, *tail]) + "\n"
    if len(full) <= limit:
        return full
    ordered = [o for o in outcomes if not o.ok] + [o for o in outcomes if o.ok]
    budget = limit - len("\n".join([*head, *tail])) - 300  # room for the count line
    rows = _rows(ordered)
    kept = 2  # the table's header
    size = sum(len(line) + 1 for line in rows[:kept])
    while kept < len(rows) and size + len(rows[kept]) + 1 <= budget // 2:
        size += len(rows[kept]) + 1
        kept += 1
    shown: list[str] = []
    for block in _details(ordered):
        cost = sum(len(line) + 1 for line in block)
        if size + cost > budget:
            break
        size += cost
        shown += block
    rest = ordered[kept - 2 :]
    more = (
        f"… and {len(rest)} more projects ({_counts(rest)}): every image is in the job's "
        "`images` output."
    )
    return "\n".join([*head, *rows[:kept], "", more, *shown, *tail]) + "\n"


def _counts(outcomes: Sequence[Outcome]) -> str:
    failed = sum(1 for o in outcomes if not o.ok)
    hits = sum(1 for o in outcomes if o.ok and o.cache_hit)
    return f"{len(outcomes) - failed - hits} built, {hits} cache hits, {failed} failed"


def _rows(outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
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
    return lines


def _details(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """The lines of each failure's log tail (a folded block)."""
    return [
        [
            "",
            f"<details><summary>{_cell(o.project)}: {_cell(o.error)}</summary>",
            "",
            "```text",
            *o.log_tail[-_TAIL_LINES:],
            "```",
            "</details>",
        ]
        for o in outcomes
        if not o.ok
    ]


def comment(outcomes: Sequence[Outcome], *, title: str, slack_thread: str | None = None) -> str:
    """The PR comment: the markdown report plus the hidden marker (and the Slack thread)."""
    hidden = MARKER + (f"\n<!-- somlier:slack-thread {slack_thread} -->" if slack_thread else "")
    return markdown(outcomes, title=title, limit=COMMENT_LIMIT) + "\n" + hidden + "\n"


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
    if len(outcomes) > SLACK_LINES_UP_TO:  # a count, then the failures (Slack shows 3,000 chars)
        lines.append(f"{len(outcomes)} images: {_counts(outcomes)}")
        outcomes = [o for o in outcomes if not o.ok]
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
