"""Fault injection shared by the fake servers.

A fault matches a request by HTTP method and a regular expression searched in the path (the
query string is not part of it). It fires ``times`` times (``None``: every time) and then stays
in the plan, spent, so a test can still read ``hits``.

Two moments: by default the fault answers *instead of* the real handler, so the state does not
change. With ``after_success=True`` the real handler runs first and the fault replaces its
answer only when that answer was a success: the state changed, the client sees an error (the
"502 after the create succeeded" case). ``status=None`` keeps the real answer and only adds
``delay``, for timeouts.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    method: str
    path_regex: str
    status: int | None
    times: int | None = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    after_success: bool = False
    delay: float = 0.0
    hits: int = 0

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self._pattern = re.compile(self.path_regex)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str) -> bool:
        return (
            not self.spent
            and self.method in ("*", method.upper())
            and self._pattern.search(path) is not None
        )


class FaultPlan:
    """The faults of one server, in the order they were injected; the first match wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str, *, after_success: bool) -> Fault | None:
        """The first live fault for this request and moment, counted as hit."""
        with self._lock:
            for fault in self._faults:
                if fault.after_success == after_success and fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def peek(self, method: str, path: str, *, after_success: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.after_success == after_success and fault.matches(method, path):
                    return fault
        return None
