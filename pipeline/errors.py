"""The error hierarchy and the exit codes of the CLI contract.

Every failure the user can act on is a :class:`SomlierError`; ``cli.main`` is the one place that
turns it into a message and an exit code. Anything else that escapes is a bug (exit 3).
"""

from __future__ import annotations

from typing import NamedTuple

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def clipped(value: str, limit: int = 80) -> str:
    """``value`` cut to ``limit`` characters for a message: input is never echoed in full."""
    return value if len(value) <= limit else f"{value[:limit]}… ({len(value) - limit} more)"


class Diagnostic(NamedTuple):
    """One finding in one file, printed as ``path:line:col: error: message``. (A NamedTuple, not
    a dataclass: every CLI start imports this module, and dataclasses pulls in inspect.)"""

    path: str
    line: int  # 1-based; 0 when the whole file is at fault
    col: int  # 1-based; 0 when unknown
    message: str
    hint: str = ""
    key_path: str = ""  # dotted location inside the document, e.g. ``offline[0].gpu.count``

    def format(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}:{self.col or 1}"
        text = f"{where}: error: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SomlierError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UserError(SomlierError):
    """The user's input is wrong: bad config, bad arguments, an unknown project."""

    exit_code = EXIT_USER_ERROR


class ConfigError(UserError):
    """One or more files failed validation; carries every diagnostic at once."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        first = diagnostics[0].format() if diagnostics else "invalid configuration"
        super().__init__(first)
        self.diagnostics = diagnostics

    def render(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)


class StepFailed(SomlierError):
    """A step of the pipeline failed: a build, a child process, a push."""

    exit_code = EXIT_STEP_FAILED


class MissingDependency(UserError):
    """An optional extra is not installed (``pip install 'somlier[mlflow]'``)."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this command needs the Python package {module!r}, which is not installed",
            hint=f"pip install 'somlier[{extra}]'",
        )
