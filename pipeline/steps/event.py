"""What a GitHub event asks of the image step (pure: payload in, decision out)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import UserError

PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
_ZERO = "0" * 40


@dataclass(frozen=True)
class PullRequestBuild:
    repo: str
    number: int
    base_sha: str
    head_sha: str
    html_url: str


@dataclass(frozen=True)
class DefaultBranchBuild:
    repo: str
    before: str
    after: str
    html_url: str


@dataclass(frozen=True)
class Ignored:
    reason: str


Decision = PullRequestBuild | DefaultBranchBuild | Ignored


def load_payload(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such event file", hint="set GITHUB_EVENT_PATH or --path"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a JSON event payload ({exc})") from None
    except RecursionError:
        raise UserError(
            f"{path}: not a GitHub event payload: its JSON is nested too deeply"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: the event payload is not a JSON object")
    return data


def _get(payload: dict[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise UserError(
                f"the event payload has no {'.'.join(keys)}",
                hint="is --name the event that produced --path?",
            )
        value = value[key]
    return value


def decide(name: str, payload: dict[str, Any], *, include_drafts: bool = False) -> Decision:
    """The image step for event ``name``, or why there is none."""
    if name == "pull_request":  # never pull_request_target: it runs PR code with secrets
        action = _get(payload, "action")
        if action not in PR_ACTIONS:
            return Ignored(f"pull_request action {action!r} builds nothing")
        pr = _get(payload, "pull_request")
        if pr.get("draft") and not include_drafts and action != "ready_for_review":
            return Ignored("draft pull request (pass --include-drafts to build drafts)")
        return PullRequestBuild(
            repo=_get(payload, "repository", "full_name"),
            number=int(_get(pr, "number")),
            base_sha=_get(pr, "base", "sha"),
            head_sha=_get(pr, "head", "sha"),
            html_url=pr.get("html_url", ""),
        )
    if name == "push":
        ref = _get(payload, "ref")
        default = _get(payload, "repository", "default_branch")
        if ref != f"refs/heads/{default}":
            return Ignored(f"push to {ref}, not to the default branch {default!r}")
        after = _get(payload, "after")
        if after == _ZERO:
            return Ignored("the default branch was deleted")
        before = _get(payload, "before")
        if before == _ZERO:
            return Ignored("a new default branch: no earlier commit to compare with")
        return DefaultBranchBuild(
            repo=_get(payload, "repository", "full_name"),
            before=before,
            after=after,
            html_url=payload.get("compare", ""),
        )
    return Ignored(f"event {name!r} builds nothing")
