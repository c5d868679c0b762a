"""Fake deployers and helpers shared by the API tests (unit and integration); no tests here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pipeline.errors import UserError
from pipeline.online.request import DeployRequest

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAYLOAD = {
    "project_name": "churn",
    "model_name": "churn-classifier",
    "model_version": "3",
    "is_k8s": True,
    "istio_enabled": False,
    "use_gpu": False,
}
FINISHED = ("succeeded", "failed")


def instant(request: DeployRequest, progress: Callable[[str], None]) -> dict[str, Any]:
    progress(f"rendering manifests for {request.model_name} v{request.model_version}")
    progress("opening the pull request")
    return {"pr": 7, "model": request.model_name, "istio": request.istio, "gpu": request.gpu}


def failing(request: DeployRequest, progress: Callable[[str], None]) -> dict[str, Any]:
    progress("looking up the model version")
    raise UserError(
        f"model {request.model_name!r} has no version {request.model_version}",
        hint="register it first",
    )


def crashing(request: DeployRequest, progress: Callable[[str], None]) -> dict[str, Any]:
    raise RuntimeError("boom")


class Gated:
    """A slow deployer: reports one step, then waits until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.seen: list[DeployRequest] = []

    def __call__(self, request: DeployRequest, progress: Callable[[str], None]) -> dict[str, Any]:
        self.seen.append(request)
        progress("waiting for the gate")
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        progress("through the gate")
        return {"done": True}


def wait_until(get: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> Any:
    """Poll ``get()`` until ``done(answer)``; give up after 20 s (a hang, not a timing check)."""
    deadline = time.monotonic() + 20
    while True:
        answer = get()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still not done: {answer}")
        time.sleep(0.01)
