"""The REST API through its ASGI app for unit tests: the ``store`` and ``client`` fixtures
(starlette's TestClient: no socket, the lifespan runs), registered for the whole suite by
tests/conftest.py. FastAPI and the server are imported when a test asks for them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pipeline.server.store import DeploymentStore

Client = Callable[..., Any]  # (deployer, *, token, queue_size) -> fastapi.testclient.TestClient


def testclient_type() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette suggests httpx2; httpx is what we have
        from fastapi.testclient import TestClient
    return TestClient


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeploymentStore]:
    from pipeline.server.store import DeploymentStore

    opened = DeploymentStore(tmp_path / "api.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def client(store: DeploymentStore) -> Iterator[Client]:
    """``client(deployer, token=TOKEN, queue_size=16)``: a TestClient with the lifespan running."""
    from pipeline.secret import Secret
    from pipeline.server.app import ApiConfig, create_app
    from tests.helpers.api_fakes import TOKEN, instant

    test_client_type = testclient_type()
    opened: list[Any] = []

    def make(deployer: Any = instant, *, token: str | None = TOKEN, queue_size: int = 16) -> Any:
        config = ApiConfig(token=Secret(token) if token else None, queue_size=queue_size)
        test_client = test_client_type(create_app(config, store, deployer))
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)
