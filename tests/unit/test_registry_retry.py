"""The registry client retries a failing request (429, 5xx, a dropped connection) four times in
all, waiting 0.5, 1 and 2 s, and a request that succeeds at once needs no retry machinery."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from pipeline.images import registry
from pipeline.images.registry import Registry, RegistryError


def flaky(failures: int, calls: list[str]) -> Any:
    def send_once(self: Registry, method: str, path: str, scope: str, **_: Any) -> Any:
        calls.append(path)
        if len(calls) <= failures:
            raise registry._Transient("503")
        return 200, {"Docker-Content-Digest": "sha256:" + "a" * 64}, b"{}"

    return send_once


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


@pytest.mark.parametrize("failures", [1, 3])
def test_transient_failures_are_retried_with_backoff(
    monkeypatch: pytest.MonkeyPatch, waits: list[float], failures: int
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(Registry, "_send_once", flaky(failures, calls))
    found = Registry("registry.invalid").manifest("ml/churn", "latest")
    assert found is not None and found.digest == "sha256:" + "a" * 64
    assert len(calls) == failures + 1
    assert waits == [0.5, 1.0, 2.0][:failures]


def test_four_failures_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(Registry, "_send_once", flaky(99, calls))
    with pytest.raises(RegistryError) as raised:
        Registry("registry.invalid").manifest("ml/churn", "latest")
    assert raised.value.message == "registry registry.invalid unreachable or failing: 503"
    assert len(calls) == 4 and waits == [0.5, 1.0, 2.0]


def test_a_request_that_succeeds_does_not_load_the_retry_library(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    for name in [m for m in sys.modules if m == "tenacity" or m.startswith("tenacity.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(Registry, "_send_once", flaky(0, []))
    assert Registry("registry.invalid").digest("ml/churn", "latest") is not None
    assert "tenacity" not in sys.modules and waits == []
