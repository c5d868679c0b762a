"""The one subprocess seam: every child process of somlier starts here, never with a shell.

git, too, is run from here rather than through GitPython: each of somlier's git operations is
one command, GitPython's import would cost every start, and a child's failure (exit code, the
tail of its output, a timeout) is reported the same way for git as for pip or docker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from pipeline.errors import StepFailed, UserError

_TAIL = 2000  # characters of output kept in an error message


class Result(NamedTuple):
    """What a finished child left: its argv, exit code and both streams as text. (A NamedTuple,
    not a dataclass: every CLI start imports this module, and dataclasses pulls in inspect.)"""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class ProcessError(StepFailed):
    """A child exited non-zero; the message shows argv, code, and the tail of both streams."""

    def __init__(self, result: Result) -> None:
        parts = [
            f"command failed with exit code {result.returncode}: {' '.join(result.argv)}",
        ]
        if result.stdout.strip():
            parts.append("stdout:\n" + result.stdout[-_TAIL:].rstrip())
        if result.stderr.strip():
            parts.append("stderr:\n" + result.stderr[-_TAIL:].rstrip())
        super().__init__("\n".join(parts))
        self.result = result


def _env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if env is None else dict(env)


def _complete(args: tuple[str, ...], **options: Any) -> subprocess.CompletedProcess[Any]:
    try:
        return subprocess.run(args, capture_output=True, check=False, **options)
    except FileNotFoundError as exc:
        raise UserError(f"{args[0]}: command not found", hint=f"install {args[0]!r}") from exc


def run(
    *argv: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> Result:
    """Run ``argv`` to completion and capture its output as text."""
    args = tuple(os.fspath(a) for a in argv)
    done = _complete(args, cwd=cwd, env=_env(env), input=stdin, text=True, errors="replace")
    result = Result(args, done.returncode, done.stdout, done.stderr)
    if check and result.returncode != 0:
        raise ProcessError(result)
    return result


def output_bytes(*argv: str | os.PathLike[str], cwd: Path | None = None) -> bytes:
    """Run ``argv`` and return its standard output as bytes (archives, images)."""
    args = tuple(os.fspath(a) for a in argv)
    done = _complete(args, cwd=cwd)
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise ProcessError(Result(args, done.returncode, "", stderr))
    stdout: bytes = done.stdout
    return stdout


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
    merge_stderr: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr as pipes (or one pipe, ``merge_stderr``) and stdin
    inherited or read from ``stdin`` (for streaming)."""
    try:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=_env(env),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise UserError(
            f"{argv[0]}: command not found",
            hint="check the entrypoint's command in somlier.yaml, or install it",
        ) from exc
    except PermissionError as exc:
        raise UserError(f"{argv[0]}: permission denied", hint="is it executable?") from exc
