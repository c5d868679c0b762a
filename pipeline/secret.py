"""A credential that is redacted wherever it could be shown, and the one way a token is read:
from the variable a setting names, in the environment mapping the edge passes in."""

from __future__ import annotations

from collections.abc import Mapping


class Secret:
    """A token: usable through :meth:`reveal`, redacted everywhere else."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def secret(variable: str, environ: Mapping[str, str]) -> Secret | None:
    """The token held by ``variable`` (a name from the settings), or None when unset or empty."""
    value = environ.get(variable, "")
    return Secret(value) if value else None
