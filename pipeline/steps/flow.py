"""The image step of a pull request or of a push to the default branch, end to end: which
projects changed, their images, and the reports (commit statuses, the PR comment, Slack, the
job summary and step outputs). ``dry_run`` decides everything and writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.config.project import load_project
from pipeline.images.refs import BuildContext
from pipeline.steps import report

if TYPE_CHECKING:  # annotations only: the forge loads when a GitHub token is configured
    from pipeline.config.model import ProjectConfig
    from pipeline.forge.github import Comment
    from pipeline.images.outcome import Outcome
    from pipeline.notify.message import Message
    from pipeline.steps.event import DefaultBranchBuild, PullRequestBuild
    from pipeline.steps.images import ImageStep, Planned

STATUS_PREFIX = "somlier/build/"
SUMMARY_CONTEXT = "all"  # somlier/build/all: the one status past the threshold
STATUSES_PER_PROJECT_UP_TO = 50


class Forge(Protocol):
    def set_status(
        self, sha: str, context: str, state: Any, description: str, target_url: str | None = None
    ) -> None: ...
    def find_comment(self, number: int, marker: str) -> Comment | None: ...
    def upsert_comment(
        self,
        number: int,
        marker: str,
        body: str,
        *,
        found: Comment | None = None,
        looked: bool = False,
    ) -> Comment: ...


class Notifier(Protocol):
    def post(self, message: Message, thread: str | None = None) -> str | None: ...


@dataclass
class Reports:
    """Where results go; every part is optional (None: not reported there)."""

    forge: Forge | None = None
    notifier: Notifier | None = None
    summary_path: Path | None = None  # GITHUB_STEP_SUMMARY
    output_path: Path | None = None  # GITHUB_OUTPUT
    run_url: str | None = None  # the CI run, the statuses' target
    api_calls: Callable[[], int] = field(default=lambda: 0)

    @staticmethod
    def no_calls() -> int:
        return 0


@dataclass(frozen=True)
class Changed:
    """A project to build: its folder in the repository and its name."""

    path: str
    name: str


@dataclass(frozen=True)
class Result:
    planned: tuple[Planned, ...]
    outcomes: tuple[Outcome, ...]
    deleted: tuple[str, ...]
    api_calls: int

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def load_changed(
    root: Path, changed: Sequence[Changed], environ: Mapping[str, str]
) -> list[tuple[str, ProjectConfig]]:
    """``(folder, config)`` of each changed project, read from the work tree at ``root``."""
    out = []
    for item in changed:
        folder = "" if item.path in ("", ".") else item.path
        marker = root / folder / "somlier.yaml"
        out.append((folder, load_project(marker, environ, str(marker.relative_to(root)))))
    return out


def plan_json(
    planned: Sequence[Planned], *, deleted: Sequence[str], context: BuildContext, push: bool
) -> dict[str, Any]:
    """The stable ``--dry-run`` object."""
    return {
        "trigger": context.trigger,
        "sha": context.sha,
        "pr": context.pr_number,
        "push": push,
        "projects": [
            {
                "name": p.config.name,
                "path": p.folder or ".",
                "image": str(p.image),
                "tags": list(p.tags),
                "source_hash": p.source_hash,
            }
            for p in planned
        ],
        "deleted": list(deleted),
    }


def _append(path: Path | None, text: str) -> None:
    if path is not None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)


def title_for(context: BuildContext, repo: str) -> str:
    if context.trigger == "pr":
        return f"somlier images for {repo}#{context.pr_number} ({context.sha[:7]})"
    return f"somlier images for {repo}@{context.sha[:7]}"


def execute(
    step: ImageStep,
    planned: Sequence[Planned],
    *,
    context: BuildContext,
    repo: str,
    link: str | None,
    reports: Reports,
    deleted: Sequence[str] = (),
) -> Result:
    """Build ``planned`` and report: statuses around the builds, then comment, Slack, files."""
    started_calls = reports.api_calls()
    if reports.forge is not None:
        names = [item.config.name for item in planned]
        for name, description in pending_statuses(names):
            reports.forge.set_status(
                context.sha, STATUS_PREFIX + name, "pending", description, reports.run_url
            )
    outcomes = step.run(planned) if planned else []
    calls = publish(
        outcomes, context=context, repo=repo, link=link, reports=reports, since=started_calls
    )
    return Result(tuple(planned), tuple(outcomes), tuple(deleted), calls)


def pending_statuses(names: Sequence[str]) -> list[tuple[str, str]]:
    """(context suffix, description) of the statuses set before the builds: one per project,
    or one for all of them past :data:`STATUSES_PER_PROJECT_UP_TO` projects."""
    if len(names) > STATUSES_PER_PROJECT_UP_TO:
        return [(SUMMARY_CONTEXT, f"building {len(names)} images")]
    return [(name, "building the image") for name in names]


def final_statuses(outcomes: Sequence[Outcome]) -> list[tuple[str, Any, str]]:
    """(context suffix, state, description) of the statuses set after the builds; past
    :data:`STATUSES_PER_PROJECT_UP_TO` projects one status counts them (GitHub keeps at most
    1,000 statuses per commit and context; the PR comment lists every project)."""
    if len(outcomes) > STATUSES_PER_PROJECT_UP_TO:
        failed = [o for o in outcomes if not o.ok]
        hits = sum(1 for o in outcomes if o.ok and o.cache_hit)
        words = f"{len(outcomes)} images: {len(outcomes) - len(failed) - hits} built, "
        words += f"{hits} cache hits, {len(failed)} failed"
        return [(SUMMARY_CONTEXT, "failure" if failed else "success", words)]
    out = []
    for o in outcomes:
        words = (
            ("cache hit: " if o.cache_hit else "built: ") + o.tags[0]
            if o.ok
            else f"failed: {o.error}"
        )
        out.append((o.project, "success" if o.ok else "failure", words))
    return out


def publish(
    outcomes: Sequence[Outcome],
    *,
    context: BuildContext,
    repo: str,
    link: str | None,
    reports: Reports,
    since: int | None = None,
) -> int:
    """Report built ``outcomes``: commit statuses, the one PR comment, Slack, the job summary
    (with the API calls made since ``since``, default now) and the step outputs. Returns
    that number of calls."""
    forge = reports.forge
    started_calls = reports.api_calls() if since is None else since
    if forge is not None:
        for name, state, words in final_statuses(outcomes):
            forge.set_status(context.sha, STATUS_PREFIX + name, state, words, reports.run_url)
    title = title_for(context, repo)
    thread = None
    found = None
    if forge is not None and context.pr_number is not None:
        found = forge.find_comment(context.pr_number, report.MARKER)
        thread = report.slack_thread_of(found.body) if found else None
    ts = None
    if reports.notifier is not None:
        ts = reports.notifier.post(report.slack(outcomes, title=title, link=link), thread)
    if forge is not None and context.pr_number is not None:
        body = report.comment(outcomes, title=title, slack_thread=thread or ts)
        forge.upsert_comment(context.pr_number, report.MARKER, body, found=found, looked=True)
    calls = reports.api_calls() - started_calls
    _append(reports.summary_path, report.markdown(outcomes, title=title, api_calls=calls))
    _append(reports.output_path, report.github_output_lines(report.outputs(outcomes)))
    return calls


def context_for(decision: PullRequestBuild | DefaultBranchBuild) -> tuple[BuildContext, str, str]:
    """(build context, base revision, head revision) of an event decision."""
    from pipeline.steps.event import PullRequestBuild

    if isinstance(decision, PullRequestBuild):
        return (
            BuildContext("pr", decision.head_sha, decision.number),
            decision.base_sha,
            decision.head_sha,
        )
    return BuildContext("main", decision.after), decision.before, decision.after
