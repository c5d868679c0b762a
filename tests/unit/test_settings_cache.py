"""Validated platform settings kept between runs: a second load with the same inputs gives the
same settings without parsing; any change of an input is a miss; errors are never kept."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import settings_cache, settings_load
from pipeline.config.settings_load import load_settings
from pipeline.errors import ConfigError

WriteTree = Callable[[Path, dict[str, Any]], Path]

PLATFORM = """\
registry: {url: 127.0.0.1:5000/ml}
builder: {parallelism: 3}
monorepo: {global_paths: [.somlier/platform.yaml, libs/shared/**]}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def root(tmp_path: Path, write_tree: WriteTree) -> Path:
    return write_tree(tmp_path / "repo", {".somlier/platform.yaml": PLATFORM})


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """Every full load (parse and validation) the settings module does."""
    seen: list[Path | None] = []
    full = settings_load._validated

    def counted(path: Path | None, environ: Any) -> Any:
        seen.append(path)
        return full(path, environ)

    monkeypatch.setattr(settings_load, "_validated", counted)
    return seen


def entries(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["XDG_CACHE_HOME"]) / "somlier" / "settings").glob("*.json"))


def test_a_second_load_is_read_back_and_equal(
    root: Path, env: dict[str, str], parses: list[Path | None]
) -> None:
    first = load_settings(root, env)
    second = load_settings(root, env)
    assert second == first
    assert second.builder.parallelism == 3 and second.source == root / ".somlier/platform.yaml"
    assert len(parses) == 1
    assert settings_cache.global_paths(root, env) == (".somlier/platform.yaml", "libs/shared/**")


def test_no_file_is_cached_too(tmp_path: Path, env: dict[str, str]) -> None:
    assert load_settings(tmp_path, env) == load_settings(tmp_path, env)
    assert load_settings(tmp_path, env).source is None
    assert settings_cache.global_paths(tmp_path, env) == (".somlier/platform.yaml",)


def test_an_edited_file_is_a_miss(root: Path, env: dict[str, str]) -> None:
    load_settings(root, env)
    (root / ".somlier/platform.yaml").write_text(
        PLATFORM.replace("parallelism: 3", "parallelism: 5")
    )
    assert load_settings(root, env).builder.parallelism == 5


def test_a_changed_variable_is_a_miss(root: Path, env: dict[str, str]) -> None:
    load_settings(root, env)
    assert (
        load_settings(root, {**env, "SOMLIER__BUILDER__PARALLELISM": "7"}).builder.parallelism == 7
    )
    assert load_settings(root, env).builder.parallelism == 3


def test_an_invalid_file_fails_every_time(root: Path, env: dict[str, str]) -> None:
    load_settings(root, env)
    (root / ".somlier/platform.yaml").write_text("builder: {parallelism: many}\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="parallelism"):
            load_settings(root, env)


def test_an_interpolating_file_is_never_kept(
    tmp_path: Path, write_tree: WriteTree, env: dict[str, str], parses: list[Path | None]
) -> None:
    root = write_tree(tmp_path / "r", {".somlier/platform.yaml": "registry: {url: '${REG}/ml'}\n"})
    assert load_settings(root, {**env, "REG": "a:5000"}).registry.url == "a:5000/ml"
    assert load_settings(root, {**env, "REG": "b:5000"}).registry.url == "b:5000/ml"
    assert len(parses) == 2 and entries(env) == []


def test_a_corrupt_or_foreign_entry_is_a_miss(root: Path, env: dict[str, str]) -> None:
    expected = load_settings(root, env)
    (entry,) = entries(env)
    for text in ("{", "[]", json.dumps({"key": "another", "data": {}, "global_paths": []})):
        entry.write_text(text)
        assert load_settings(root, env) == expected


def test_entries_are_owner_only(root: Path, env: dict[str, str]) -> None:
    load_settings(root, env)
    (entry,) = entries(env)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_an_unwritable_cache_is_no_error(
    root: Path, tmp_path: Path, parses: list[Path | None]
) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    env = {"XDG_CACHE_HOME": str(blocked)}
    assert load_settings(root, env) == load_settings(root, env)
    assert len(parses) == 2


def test_old_entries_are_pruned(tmp_path: Path, env: dict[str, str]) -> None:
    for i in range(settings_cache.KEEP + 5):
        load_settings(tmp_path, {**env, "SOMLIER__REGISTRY__IMAGE_PREFIX": f"p{i}-"})
    assert len(entries(env)) == settings_cache.KEEP
