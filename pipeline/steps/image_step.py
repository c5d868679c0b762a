"""The image step as one call: which projects to build (named, or changed since a base), their
images (built, or reused registry-side), the reports, and after a merge the DAGs. Plain values
and adapters in, a frozen :class:`ImageStepResult` out; printing it is the caller's business
(``somlier pipeline build``/``event`` print it as text or ``--json``, ``/build`` replies with
it)."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import EXIT_OK, EXIT_STEP_FAILED, UserError

if TYPE_CHECKING:  # the runtime imports are deferred to keep start-up fast
    from pipeline.config.model import ProjectConfig
    from pipeline.config.settings import PlatformSettings
    from pipeline.images.outcome import Outcome
    from pipeline.images.refs import BuildContext, Trigger
    from pipeline.images.registry import Registry
    from pipeline.notify.progress import Progress
    from pipeline.steps import flow
    from pipeline.steps.flow import Reports
    from pipeline.steps.images import Builder, Log, Planned

BuilderFactory = Callable[[], "Builder"]
# After a merge: (root, sha, configs, outcomes, deleted) -> the published DAGs (their JSON).
PublishDags = Callable[
    [Path, str, Sequence[tuple[str, "ProjectConfig"]], Sequence["Outcome"], Sequence[str]],
    list[dict[str, Any]],
]


def _quiet(*_args: str) -> None:
    """The default log: nothing."""


@dataclass(frozen=True)
class StepAdapters:
    """What the image step talks to, built at the edge from settings and the environment.

    ``builders(anything_to_build)`` returns the builder factory (each worker thread calls it
    once); it raises a :class:`UserError` when the settings cannot build. ``reports()`` says
    where results go; it is called only when the step builds (never for a dry run).
    ``publish_dags``: the merge's DAG publisher (None: DAGs are not published)."""

    settings: PlatformSettings
    registry: Registry | None
    builders: Callable[[bool], BuilderFactory]
    reports: Callable[[], Reports]
    log: Log = _quiet  # (project, line) of each build
    packages_log: Callable[[str], None] = _quiet
    publish_dags: PublishDags | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class ImageStepResult:
    """What the image step did (or, for a dry run, would do)."""

    context: BuildContext
    planned: tuple[Planned, ...]
    outcomes: tuple[Outcome, ...] = ()
    deleted: tuple[str, ...] = ()
    api_calls: int = 0
    dags: tuple[dict[str, Any], ...] = ()
    dry_run: bool = False
    push: bool = False

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_STEP_FAILED

    @property
    def built(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.ok and not o.cache_hit)

    @property
    def cache_hits(self) -> tuple[Outcome, ...]:
        """Images reused (retagged) rather than built: their sources were built before."""
        return tuple(o for o in self.outcomes if o.ok and o.cache_hit)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(o.project for o in self.outcomes if not o.ok)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` object (``--dry-run``: the plan, docs/pipeline.md)."""
        from pipeline.steps import flow, report

        if self.dry_run:
            return flow.plan_json(
                self.planned, deleted=self.deleted, context=self.context, push=self.push
            )
        return {
            "ok": self.ok,
            "api_calls": self.api_calls,
            "images": report.images_json(self.outcomes),
            "failed": list(self.failed),
            "deleted": list(self.deleted),
            "dags": list(self.dags),
        }

    def text_lines(self) -> list[str]:
        """One line per project (the text output of ``pipeline build``)."""
        lines = []
        for o in self.outcomes:
            state = ("cache hit" if o.cache_hit else "built") if o.ok else f"FAILED: {o.error}"
            lines.append(f"{o.project}: {o.image}:{o.tags[0]} {state}")
        return lines or ["nothing changed: nothing to build"]


def run_image_step(
    root: Path,
    *,
    head: str,
    base: str | None = None,
    projects: Sequence[str] = (),
    trigger: Trigger = "manual",
    pr: int | None = None,
    repo: str | None = None,
    link: str | None = None,
    dry_run: bool = False,
    jobs: int | None = None,
    environ: Mapping[str, str],
    adapters: StepAdapters,
) -> ImageStepResult:
    """Build (or reuse) the images of ``projects`` (folders), or of the projects changed
    between ``base`` and ``head``, and report them; at most ``jobs`` at once (default:
    ``builder.parallelism``). ``environ`` is read for ``${VAR}`` values in somlier.yaml and
    git's settings only; credentials come in ``adapters``."""
    from pipeline import proc
    from pipeline.images.refs import BuildContext
    from pipeline.steps import flow, images

    if jobs is not None:
        builder = dataclasses.replace(adapters.settings.builder, parallelism=jobs)
        settings = dataclasses.replace(adapters.settings, builder=builder)
        adapters = dataclasses.replace(adapters, settings=settings)
    settings = adapters.settings
    sha = proc.run("git", "rev-parse", "--verify", f"{head}^{{commit}}", cwd=root).stdout.strip()
    changed, deleted = _changed(root, base, sha, projects, environ)
    context = BuildContext(trigger, sha, pr)
    configs = flow.load_changed(root, changed, environ)
    planned = tuple(images.plan(root, sha, configs, settings, context))
    push = adapters.registry is not None
    if dry_run:
        return ImageStepResult(context, planned, deleted=deleted, dry_run=True, push=push)
    result = _build(root, sha, planned, context, repo, link, deleted, environ, adapters)
    dags: list[dict[str, Any]] = []
    publish = adapters.publish_dags
    if publish and trigger == "main" and settings.github.dags_repo and (configs or deleted):
        dags = publish(root, sha, configs, result.outcomes, deleted)
    return ImageStepResult(
        context,
        planned,
        result.outcomes,
        result.deleted,
        result.api_calls,
        tuple(dags),
        push=push,
    )


def _changed(
    root: Path, base: str | None, sha: str, projects: Sequence[str], environ: Mapping[str, str]
) -> tuple[list[Any], tuple[str, ...]]:
    """(the projects to build, the deleted projects' names)."""
    from pipeline.steps import flow

    if projects:
        return [flow.Changed(p.strip("/"), p) for p in projects], ()
    if base is None:
        raise UserError("say what to build: --base REF (changed projects) or --project DIR")
    from pipeline.monorepo.detect import detect

    found = detect(root, base, sha, environ)
    changed = [flow.Changed(p.path, p.name) for p in found.projects]
    return changed, tuple(d.name for d in found.deleted)


def _build(
    root: Path,
    sha: str,
    planned: tuple[Planned, ...],
    context: BuildContext,
    repo: str | None,
    link: str | None,
    deleted: tuple[str, ...],
    environ: Mapping[str, str],
    adapters: StepAdapters,
) -> flow.Result:
    from pipeline.images import packages
    from pipeline.steps import flow
    from pipeline.steps.images import ImageStep

    settings = adapters.settings
    cloud = settings.builder.type == "cloudbuild"
    factory = adapters.builders(bool(planned))
    if planned:
        # Credentials a builder must not be given are refused before anything is built.
        packages.index_secret(settings.packages, environ, cloud=cloud)
        # Fail early and plainly (no engine, no credentials, settings missing); the first
        # worker then builds with this builder instead of connecting again.
        factory = _first_then(factory(), factory)
    with tempfile.TemporaryDirectory(prefix="somlier-build-") as scratch:
        step = ImageStep(
            root,
            sha,
            settings,
            context,
            factory,
            adapters.registry,
            adapters.log,
            source_url=f"https://github.com/{repo}" if repo else "",
            packages=partial(
                packages.inputs,
                settings.packages,
                environ,
                cloud=cloud,
                scratch=Path(scratch),
                log=adapters.packages_log,
            ),
        )
        reports = adapters.reports()
        count = len(planned)
        title = f"{count} image{'s' if count != 1 else ''}: build and push"
        shown = adapters.progress.step(title) if adapters.progress and count else nullcontext()
        with shown:
            return flow.execute(
                step,
                planned,
                context=context,
                repo=repo or settings.github.projects_repo or root.name,
                link=link,
                reports=reports,
                deleted=deleted,
            )


def _first_then(first: Builder, factory: BuilderFactory) -> BuilderFactory:
    """A factory that returns ``first`` once (to one thread), then new builders."""
    spare = [first]

    def make() -> Builder:
        try:
            return spare.pop()  # atomic: only one worker gets it
        except IndexError:
            return factory()

    return make
