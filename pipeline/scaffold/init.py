"""``somlier init``: a project's virtual environment, its requirements, the pre-commit hook.

:func:`plan` decides the commands (pure, testable); :func:`run` runs them through
:mod:`pipeline.proc`, in order, stopping at the first failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline import proc
from pipeline.notify.progress import Progress


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...]
    cwd: Path


@dataclass(frozen=True)
class Plan:
    project: Path
    venv: Path
    steps: tuple[Step, ...]
    notes: tuple[str, ...]


def _bin(venv: Path, name: str) -> str:
    return str(venv / "bin" / name)


def plan(
    project: Path,
    *,
    python: str,
    venv: Path,
    system_site_packages: bool,
    requirements: Path | None,
    git_root: Path | None,
    pre_commit: str | None,
    hooks: bool = True,
) -> Plan:
    """The commands that set up ``project``.

    ``python`` creates the environment; ``requirements`` (None: skip) are installed into it;
    the hook goes into the repository at ``git_root`` with ``pre_commit`` (an executable; None:
    install pre-commit into the new environment first).
    """
    notes = []
    steps = []
    if (venv / "pyvenv.cfg").is_file():
        notes.append(f"{venv} exists: reused")
    else:
        argv = [python, "-m", "venv"]
        if system_site_packages:
            argv.append("--system-site-packages")
        steps.append(Step("virtual environment", (*argv, str(venv)), project))
    pip = (_bin(venv, "python"), "-m", "pip", "install", "--quiet")
    if requirements is not None:
        steps.append(Step("requirements", (*pip, "-r", str(requirements)), project))
    if not hooks:
        notes.append("pre-commit hook: skipped (--no-hooks)")
    elif git_root is None:
        notes.append("pre-commit hook: skipped (not inside a git repository)")
    else:
        if pre_commit is None:
            steps.append(Step("pre-commit", (*pip, "pre-commit"), project))
            pre_commit = _bin(venv, "pre-commit")
        if not (git_root / ".pre-commit-config.yaml").is_file():
            notes.append(
                f"{git_root} has no .pre-commit-config.yaml: the hook will ask for one "
                "(somlier new-monorepo writes it)"
            )
        steps.append(Step("pre-commit hook", (pre_commit, "install"), git_root))
    return Plan(project, venv, tuple(steps), tuple(notes))


def run(plan: Plan, progress: Progress) -> None:
    """Run the plan's steps in order, each shown by ``progress``; the first failure raises
    :class:`proc.ProcessError` (whose message carries the step's output)."""
    for step in plan.steps:
        with progress.step(f"{step.title}: {' '.join(step.argv)}"):
            proc.run(*step.argv, cwd=step.cwd)
