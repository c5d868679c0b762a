"""``somlier dags check``: every DAG file of a folder imported by a real Airflow, then judged.

The folder is an mlops-dags checkout (DAG files under ``dags/``, the ``operators`` package at its
root) or any folder of DAG files; the nearest folder at or above it that holds
``operators/__init__.py`` goes on Airflow's sys.path, so ``from operators… import …`` works as
it does in the deployed Airflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.dags import rules, runtime
from pipeline.dags.facts import ProbeReport
from pipeline.dags.source import Sources
from pipeline.errors import UserError

OPERATORS = "operators"


@dataclass(frozen=True)
class Layout:
    root: Path  # what the user named
    dag_folder: Path  # what the DagBag fills from
    import_roots: tuple[Path, ...]  # first on Airflow's sys.path


def layout(directory: Path) -> Layout:
    root = directory.resolve()
    if not root.is_dir():
        raise UserError(f"{directory}: not a folder", hint="pass the mlops-dags checkout")
    dag_folder = root / "dags" if (root / "dags").is_dir() else root
    roots = [root]
    for folder in (root, *root.parents):
        if (folder / OPERATORS / "__init__.py").is_file():
            roots = list(dict.fromkeys([folder, root]))
            break
    return Layout(root, dag_folder, tuple(roots))


@dataclass(frozen=True)
class CheckResult:
    shown_root: str  # the folder as the user spelled it: paths are shown under it
    airflow_python: Path  # the python of the Airflow that imported the files
    layout: Layout
    report: ProbeReport
    findings: tuple[rules.Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def show(self, path: str) -> str:
        """``path`` under the folder as the user spelled it (absolute when outside it)."""
        try:
            relative = Path(path).resolve().relative_to(self.layout.root)
        except ValueError:
            return path
        if relative == Path():
            return self.shown_root or "."
        if self.shown_root in ("", "."):
            return relative.as_posix()
        return f"{self.shown_root.rstrip('/')}/{relative.as_posix()}"

    def lines(self) -> list[str]:
        return [f.format(self.show(f.path)) for f in self.findings]

    def summary(self) -> str:
        dags = len(self.report.dags)
        files = len(self.report.files)
        return (
            f"{files} DAG file{'s' * (files != 1)}, {dags} DAG{'s' * (dags != 1)} imported by "
            f"{self.airflow()}: {self.errors} error{'s' * (self.errors != 1)}"
            f", {self.warnings} warning{'s' * (self.warnings != 1)}"
        )

    def airflow(self) -> str:
        """``Airflow 3.3.2 (cncf-kubernetes provider 10.25.0, PYTHON)``."""
        provider = self.report.provider_version or "none"
        return (
            f"Airflow {self.report.airflow_version} (cncf-kubernetes provider {provider},"
            f" {self.airflow_python})"
        )

    def to_json(self) -> dict[str, Any]:
        """The stable ``somlier dags check --json`` object (docs/dags.md)."""
        sources = Sources()
        return {
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "airflow_version": self.report.airflow_version,
            "provider_version": self.report.provider_version,
            "airflow_python": str(self.airflow_python),
            "dag_folder": self.show(self.report.dag_folder),
            "files": [self.show(f) for f in self.report.files],
            "dags": [
                {
                    "dag_id": dag.dag_id,
                    "path": self.show(dag.file),
                    "line": sources.dag_line(dag.file, dag.dag_id),
                    "tasks": [
                        {
                            "task_id": task.task_id,
                            "operator": task.operator,
                            "line": sources.task_line(task.file, task.task_id),
                            "image": task.image,
                            "num_of_gpus": task.num_of_gpus,
                            "gpu_type": task.gpu_type,
                            "pod": task.pod.to_json() if task.pod else None,
                        }
                        for task in dag.tasks
                    ],
                }
                for dag in self.report.dags
            ],
            "problems": [
                {
                    "path": self.show(f.path),
                    "line": f.line,
                    "col": f.col,
                    "severity": f.severity,
                    "code": f.code,
                    "message": f.message,
                }
                for f in self.findings
            ],
        }


def check_dags(directory: Path, airflow_python: Path, environ: Mapping[str, str]) -> CheckResult:
    """Import every DAG file under ``directory`` with ``airflow_python``'s Airflow and judge it."""
    where = layout(directory)
    report = runtime.run_probe(airflow_python, where.dag_folder, where.import_roots, environ)
    partial = CheckResult(str(directory), airflow_python, where, report, ())
    findings = rules.check(report, Sources(), show=partial.show)
    return CheckResult(str(directory), airflow_python, where, report, tuple(findings))
