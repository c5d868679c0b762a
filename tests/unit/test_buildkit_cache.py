"""Which docker CLI drives BuildKit is probed once and remembered in the user's cache folder:
a second run asks no client, a changed client or buildx plugin is asked again, and a cache file
that is corrupt, foreign or cannot be written changes nothing but the time taken."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from pipeline.images import buildkit


class Probe:
    """Stands in for running ``docker --version`` / ``docker buildx version``."""

    def __init__(self, answers: Mapping[str, str]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    def __call__(self, executable: str, env: Mapping[str, str]) -> str:
        self.asked.append(executable)
        return self.answers.get(executable, "")


def client(folder: Path, content: bytes = b"#!/bin/false\n") -> str:
    """A ``docker`` executable in ``folder``; its resolved path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docker"
    path.write_bytes(content)
    path.chmod(0o755)
    return str(path.resolve())


@pytest.fixture
def setup(tmp_path: Path) -> tuple[dict[str, str], str, str, Path]:
    """Two clients on PATH: the first cannot drive BuildKit, the second can."""
    new = client(tmp_path / "new")
    old = client(tmp_path / "old")
    environ = {
        "PATH": f"{tmp_path / 'new'}{os.pathsep}{tmp_path / 'old'}",
        "HOME": str(tmp_path / "home"),
    }
    return environ, new, old, tmp_path / "cache"


def test_a_second_run_asks_no_client(setup: tuple[dict[str, str], str, str, Path]) -> None:
    environ, new, old, cache = setup
    probe = Probe({old: "DOCKER_BUILDKIT=1"})
    first = buildkit.find(environ, "unix:///x.sock", "auto", cache=cache, probe=probe)
    assert first is not None and (first.executable, first.via) == (old, "DOCKER_BUILDKIT=1")
    assert probe.asked == [new, old]
    assert first.env["DOCKER_HOST"] == "unix:///x.sock" and first.env["DOCKER_BUILDKIT"] == "1"

    again = Probe({})  # would answer "cannot" for everything: the cache must answer instead
    second = buildkit.find(environ, "unix:///x.sock", "auto", cache=cache, probe=again)
    assert second == first
    assert again.asked == []


def test_a_changed_client_is_asked_again(setup: tuple[dict[str, str], str, str, Path]) -> None:
    environ, new, old, cache = setup
    buildkit.find(environ, None, "auto", cache=cache, probe=Probe({old: "DOCKER_BUILDKIT=1"}))
    client(Path(new).parent, b"#!/bin/false\n# an upgraded client, with buildx\n")
    probe = Probe({new: "buildx", old: "DOCKER_BUILDKIT=1"})
    found = buildkit.find(environ, None, "auto", cache=cache, probe=probe)
    assert found is not None and (found.executable, found.via) == (new, "buildx")
    assert probe.asked == [new]  # the unchanged one is not asked (nor needed)


def test_a_new_buildx_plugin_is_noticed(setup: tuple[dict[str, str], str, str, Path]) -> None:
    environ, new, old, cache = setup
    buildkit.find(environ, None, "auto", cache=cache, probe=Probe({old: "DOCKER_BUILDKIT=1"}))
    plugins = Path(environ["HOME"]) / ".docker" / "cli-plugins"
    Path(client(plugins)).rename(plugins / "docker-buildx")  # what installing buildx does
    probe = Probe({new: "buildx"})
    found = buildkit.find(environ, None, "auto", cache=cache, probe=probe)
    assert found is not None and (found.executable, found.via) == (new, "buildx")
    assert probe.asked == [new]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"format": "someone-else/1", "clients": {}}).encode(),
        json.dumps({"format": "somlier/buildkit-cli/1", "clients": ["x"]}).encode(),
    ],
)
def test_a_corrupt_or_foreign_cache_file_is_ignored_and_replaced(
    setup: tuple[dict[str, str], str, str, Path], content: bytes
) -> None:
    environ, new, old, cache = setup
    cache.mkdir()
    (cache / buildkit.CACHE_FILE).write_bytes(content)
    probe = Probe({old: "DOCKER_BUILDKIT=1"})
    found = buildkit.find(environ, None, "auto", cache=cache, probe=probe)
    assert found is not None and found.executable == old
    assert probe.asked == [new, old]
    again = Probe({})
    assert buildkit.find(environ, None, "auto", cache=cache, probe=again) == found
    assert again.asked == []
    assert [p.name for p in cache.iterdir()] == [buildkit.CACHE_FILE]  # no scratch file left


def test_a_cache_folder_that_cannot_be_written_only_costs_time(
    setup: tuple[dict[str, str], str, str, Path],
) -> None:
    environ, _, old, cache = setup
    cache.write_text("a file where the folder should be")
    for _ in range(2):
        probe = Probe({old: "DOCKER_BUILDKIT=1"})
        found = buildkit.find(environ, None, "auto", cache=cache, probe=probe)
        assert found is not None and found.executable == old
        assert len(probe.asked) == 2


def test_no_cache_asks_every_time_and_off_asks_nothing(
    setup: tuple[dict[str, str], str, str, Path],
) -> None:
    environ, _, old, cache = setup
    probe = Probe({old: "DOCKER_BUILDKIT=1"})
    buildkit.find(environ, None, "auto", probe=probe)
    buildkit.find(environ, None, "auto", probe=probe)
    assert len(probe.asked) == 4
    off = Probe({})
    assert buildkit.find(environ, None, "off", cache=cache, probe=off) is None
    assert off.asked == [] and not cache.exists()
