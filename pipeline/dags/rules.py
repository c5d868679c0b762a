"""What ``somlier dags check`` reports: the probe's facts judged, one finding per problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.dags.facts import ProbeReport, Task
from pipeline.dags.source import (
    Sources,
    error_location,
    exception_line,
    innermost_frame,
    is_syntax_error,
)
from pipeline.offline import pod

Severity = Literal["error", "warning"]
_HINTED = frozenset({"pod-command"})  # problems whose hint dags check shows


@dataclass(frozen=True)
class Finding:
    """One problem in one file; ``path`` as the probe saw it (absolute)."""

    path: str
    line: int  # 1-based; 0 when unknown
    col: int  # 1-based; 0 when unknown
    severity: Severity
    code: str  # stable: import-error, duplicate-dag-id, image-latest, gpu-limit, …
    message: str

    def format(self, shown: str) -> str:
        where = shown
        if self.line:
            where += f":{self.line}"
            if self.col:
                where += f":{self.col}"
        return f"{where}: {self.severity}: {self.message}"


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``reg:5000/ml/p:sha-1`` -> ``sha-1``); None when it has
    none. A digest-pinned reference (``…@sha256:…``) counts as tagged ``@digest``."""
    if "@" in image:
        return "@digest"
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return None
    return name.rsplit(":", 1)[1] or None


def _image_findings(task: Task, line: int) -> Iterator[Finding]:
    if not task.image:
        return
    tag = image_tag(task.image)
    if tag is None:
        message = f"task {task.task_id!r} runs image {task.image!r} without a tag (so 'latest')"
        yield Finding(task.file, line, 0, "warning", "image-untagged", message + _PIN)
    elif tag == "latest":
        message = f"task {task.task_id!r} runs image {task.image!r}"
        yield Finding(task.file, line, 0, "warning", "image-latest", message + _PIN)


_PIN = ": a retry or a rerun may run other code; use the sha-… tag somlier builds"


def _pod_findings(task: Task, line: int) -> Iterator[Finding]:
    """The pod against the rules ``offline create`` and ``render`` apply to a job
    (:mod:`pipeline.offline.pod`): one rule set for both sides."""

    def error(code: str, message: str) -> Finding:
        return Finding(task.file, line, 0, "error", code, f"task {task.task_id!r}: {message}")

    if task.pod_error is not None:
        yield error("pod-error", f"its pod cannot be built: {exception_line(task.pod_error)}")
        return
    found = task.pod
    if found is None:
        return
    problems = pod.command_problems(found.command, found.args) + pod.gpu_problems(
        gpu_type=task.gpu_type,
        num_of_gpus=task.num_of_gpus or 0,
        gpu_limit=found.limits.get(pod.GPU_RESOURCE),
        node_selector=found.node_selector,
    )
    for problem in problems:
        # The GPU hints name the platform settings, which a dags repository cannot change.
        hint = f" ({problem.hint})" if problem.hint and problem.code in _HINTED else ""
        yield error(problem.code, problem.message + hint)


def check(
    report: ProbeReport,
    sources: Sources | None = None,
    show: Callable[[str], str] = str,
) -> list[Finding]:
    """Every finding, sorted by file and line; ``show`` spells a path inside a message."""
    sources = sources or Sources()
    findings: list[Finding] = []
    for failure in report.import_errors:
        where = error_location(failure.traceback, failure.file, sources.text(failure.file))
        message = exception_line(failure.traceback)
        frame = innermost_frame(failure.traceback)
        if is_syntax_error(failure.traceback) and frame and Path(frame[0]) != Path(failure.file):
            message += f" (in {show(frame[0])}:{frame[1]}, which this file imports)"
        code = "import-error"
        if failure.kind == "serialize":
            code, message = "serialize-error", f"a DAG of this file does not serialize: {message}"
        findings.append(Finding(failure.file, where.line, where.col, "error", code, message))
    for dup in report.duplicates:
        # Reported at the file that sorts last, whichever Airflow happened to read first.
        first_file, file = sorted((dup.first_file, dup.file))
        first_line = sources.dag_line(first_file, dup.dag_id)
        first = show(first_file) + (f":{first_line}" if first_line else "")
        findings.append(
            Finding(
                file,
                sources.dag_line(file, dup.dag_id),
                0,
                "error",
                "duplicate-dag-id",
                f"dag_id {dup.dag_id!r} is defined in {first} too (Airflow keeps one of them)",
            )
        )
    for dag in report.dags:
        for task in dag.tasks:
            line = sources.task_line(task.file, task.task_id)
            findings.extend(_image_findings(task, line))
            if task.mlops:
                findings.extend(_pod_findings(task, line))
    if not report.dags and not report.import_errors and not report.duplicates:
        findings.append(Finding(report.dag_folder, 0, 0, "warning", "no-dags", "no DAG found here"))
    return sorted(findings, key=lambda f: (f.path, f.line, f.col, f.code))
