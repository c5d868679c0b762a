"""The result file of one batch of a matrix build (``pipeline build --results FILE``) and the
reading of all of them back by the one job that reports (``pipeline report``): a matrix of many
batch jobs still makes one PR comment, one Slack message and one set of commit statuses."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UserError
from pipeline.images.outcome import Outcome
from pipeline.images.refs import BuildContext

if TYPE_CHECKING:
    from pipeline.steps.flow import Reports
    from pipeline.steps.image_step import ImageStepResult

KIND = "somlier-build-batch"
VERSION = 1
_OUTCOME_FIELDS: dict[str, Any] = {
    "project": str,
    "path": str,
    "image": str,
    "tags": list,
    "ok": bool,
    "cache_hit": bool,
    "digest": (str, type(None)),
    "seconds": (int, float),
    "error": str,
    "log_tail": list,
    "pushed": bool,
}


def dump(result: ImageStepResult) -> dict[str, Any]:
    """The JSON object a batch job leaves for the report job."""
    context = result.context
    return {
        "kind": KIND,
        "version": VERSION,
        "trigger": context.trigger,
        "sha": context.sha,
        "pr": context.pr_number,
        "deleted": list(result.deleted),
        "outcomes": [
            {key: getattr(o, key) for key in _OUTCOME_FIELDS}
            | {"tags": list(o.tags), "log_tail": list(o.log_tail)}
            for o in result.outcomes
        ],
    }


def write(result: ImageStepResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dump(result), indent=1) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Collected:
    """Every batch's outcomes, in project-folder order (each project once)."""

    context: BuildContext
    outcomes: tuple[Outcome, ...]
    deleted: tuple[str, ...]
    files: int


def files_in(paths: Sequence[Path]) -> list[Path]:
    """The result files named, and the ``*.json`` files of the folders named, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob("*.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or folder of batch results")
    return found


def collect(paths: Sequence[Path]) -> Collected:
    """Read the batch results in ``paths`` (files, or folders of ``*.json``) back."""
    files = files_in(paths)
    if not files:
        raise UserError(
            "no batch results to report",
            hint="pass the files `somlier pipeline build --results FILE` wrote, or their folder",
        )
    contexts: set[tuple[str, str, int | None]] = set()
    by_path: dict[str, Outcome] = {}
    deleted: set[str] = set()
    for file in files:
        data = _load(file)
        contexts.add((data["trigger"], data["sha"], data["pr"]))
        deleted.update(data["deleted"])
        for item in data["outcomes"]:
            outcome = _outcome(file, item)
            if outcome.path in by_path:
                raise UserError(f"{file}: {outcome.project} is in two batches")
            by_path[outcome.path] = outcome
    if len(contexts) != 1:
        raise UserError(
            "the batch results are of different builds (trigger, commit or PR differ)",
            hint="report the batches of one workflow run together",
        )
    trigger, sha, pr = contexts.pop()
    return Collected(
        BuildContext(trigger, sha, pr),  # type: ignore[arg-type]
        tuple(by_path[key] for key in sorted(by_path)),
        tuple(sorted(deleted)),
        len(files),
    )


def _load(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"{file}: not a batch result ({exc.__class__.__name__})") from None
    good = (
        isinstance(data, dict)
        and data.get("kind") == KIND
        and data.get("version") == VERSION
        and data.get("trigger") in ("pr", "main", "manual")
        and isinstance(data.get("sha"), str)
        and (data.get("pr") is None or type(data.get("pr")) is int)
        and isinstance(data.get("deleted"), list)
        and all(isinstance(d, str) for d in data["deleted"])
        and isinstance(data.get("outcomes"), list)
    )
    if not good:
        raise UserError(f"{file}: not a batch result of this somlier (kind {KIND} v{VERSION})")
    return dict(data)


def _outcome(file: Path, item: Any) -> Outcome:
    if not isinstance(item, dict) or set(item) != set(_OUTCOME_FIELDS):
        raise UserError(f"{file}: a project's result has other fields than expected")
    for key, kind in _OUTCOME_FIELDS.items():
        value = item[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise UserError(f"{file}: a project's {key} is not a {_name(kind)}")
    if not item["tags"] or not all(isinstance(t, str) for t in item["tags"] + item["log_tail"]):
        raise UserError(f"{file}: a project's tags or log are not lists of strings")
    return Outcome(**{**item, "tags": tuple(item["tags"]), "log_tail": tuple(item["log_tail"])})


def _name(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def report_batches(
    paths: Sequence[Path], *, repo: str, link: str | None, reports: Callable[[], Reports]
) -> ImageStepResult:
    """Report every batch of a matrix build at once: the commit statuses (one per project, or
    one for all past a threshold), the one PR comment, one Slack message, the job summary and
    outputs, as a single ``pipeline build`` reports its projects. ``reports`` is called once
    the results are read."""
    from pipeline.steps import flow
    from pipeline.steps.image_step import ImageStepResult

    found = collect(paths)
    calls = flow.publish(
        found.outcomes, context=found.context, repo=repo, link=link, reports=reports()
    )
    return ImageStepResult(found.context, (), found.outcomes, found.deleted, calls)
