"""The unit-test guard of conftest.py: no child processes, no connections, fork pools still work."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys

import pytest

from pipeline import proc


def _refused(info: pytest.ExceptionInfo[BaseException]) -> None:
    assert type(info.value).__name__ == "UnitTestIsolationError"
    assert not isinstance(info.value, Exception)  # `except Exception` cannot swallow it
    assert "tests/integration/" in str(info.value)


def test_subprocess_is_refused() -> None:
    with pytest.raises(BaseException) as info:
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    _refused(info)


def test_the_subprocess_seam_is_refused() -> None:
    with pytest.raises(BaseException) as info:
        proc.run("git", "--version")
    _refused(info)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_UNIX])
def test_connections_are_refused(family: socket.AddressFamily) -> None:
    address = ("127.0.0.1", 9) if family == socket.AF_INET else "/var/run/docker.sock"
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        with pytest.raises(BaseException) as info:
            sock.connect(address)
        _refused(info)
        with pytest.raises(BaseException) as info:
            sock.connect_ex(address)
        _refused(info)


def test_create_connection_is_refused() -> None:
    with pytest.raises(BaseException) as info:
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    _refused(info)


def _square(value: int) -> int:
    return value * value


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_a_fork_pool_still_works() -> None:
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_square, range(10)) == [v * v for v in range(10)]


def test_local_socket_pairs_still_work() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"ok")
        assert right.recv(2) == b"ok"
