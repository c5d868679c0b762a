"""Unit tests run without network and without child processes.

An autouse fixture makes ``subprocess.Popen`` and socket connections raise, so a unit test that
reaches git, Docker, MLflow or any server fails loudly instead of passing by accident. The error
is a ``BaseException`` on purpose: the product's ``except Exception`` handlers (which turn a
missing Docker engine into a friendly message, or a bug into exit code 3) cannot swallow it.
Tests that need real processes or services belong in ``tests/integration/``.

croniter runs ``file`` (``platform.architecture()``) when it is first imported: it is imported
here, before any test's guard, so which test imports it first does not matter.

``multiprocessing`` with the ``fork`` start method (what ``validate_files`` uses) neither calls
``subprocess.Popen`` nor connects a socket, so worker pools still run here.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from typing import Any

import croniter  # noqa: F401  (see below)
import pytest

from tests.helpers.files import WriteTree
from tests.helpers.files import write_tree as _write_tree


class UnitTestIsolationError(BaseException):
    """A unit test tried to start a process or open a connection."""


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise UnitTestIsolationError(
            f"unit tests must not {what} (called with {args!r:.200}); "
            "fake it at the seam or move the test to tests/integration/"
        )

    return refuse


@pytest.fixture(autouse=True)
def _no_subprocess_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "Popen", _refuse("start a process"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("connect a socket"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("connect a socket"))


@pytest.fixture
def write_tree() -> WriteTree:
    """``write_tree(tmp_path, {"proj/somlier.yaml": text, ...})``: write the files, return the root.

    Text is written as UTF-8; bytes are written as they are.
    """
    return _write_tree
