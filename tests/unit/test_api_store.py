"""The SQLite deployment store: its schema version, foreign files, recovery after a crash."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.server.store import INTERRUPTED, SCHEMA_VERSION, DeploymentStore

REQUEST = {"model_name": "m", "model_version": "1"}


def test_a_new_database_is_created_with_its_folder_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / ".somlier" / "api.sqlite3"
    DeploymentStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_rows_round_trip(tmp_path: Path) -> None:
    store = DeploymentStore(tmp_path / "a.db")
    ident = store.create(REQUEST)
    store.start(ident)
    store.add_progress(ident, "one")
    store.add_progress(ident, "two")
    store.succeed(ident, {"pr": 1})
    store.close()

    row = DeploymentStore(tmp_path / "a.db").get(ident)
    assert row is not None
    assert (row.status, row.request, row.result, row.error) == (
        "succeeded",
        REQUEST,
        {"pr": 1},
        None,
    )
    assert [p.message for p in row.progress] == ["one", "two"]
    assert row.created_at <= row.started_at <= row.finished_at  # type: ignore[operator]


def test_recover_fails_running_and_requeues_queued_oldest_first(tmp_path: Path) -> None:
    store = DeploymentStore(tmp_path / "a.db")
    first, second, third, done = (store.create(REQUEST) for _ in range(4))
    store.start(second)
    store.start(done)
    store.succeed(done, {})

    recovery = store.recover()
    assert recovery.failed == (second,)
    assert recovery.requeued == (first, third)
    interrupted = store.get(second)
    assert interrupted is not None
    assert (interrupted.status, interrupted.error) == ("failed", INTERRUPTED)
    assert store.get(done).status == "succeeded"  # type: ignore[union-attr]


def test_a_database_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    DeploymentStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match=f"schema version is {SCHEMA_VERSION + 1}"):
        DeploymentStore(path)


def test_another_programs_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE experiments (id INTEGER)")
    with pytest.raises(UserError, match="is not a usable somlier API database: it holds other"):
        DeploymentStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("experiments",)]


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some text that is long enough\n" * 50)
    with pytest.raises(UserError) as caught:
        DeploymentStore(path)
    assert "is not a usable somlier API database" in caught.value.message
    assert caught.value.hint == "pass another --db PATH, or move this file away"


def test_a_folder_that_cannot_be_created_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot open the API database"):
        DeploymentStore(tmp_path / "file" / "api.sqlite3")


def test_a_database_has_one_owner_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "api.sqlite3"
    first = DeploymentStore(path)
    ident = first.create(REQUEST)
    first.start(ident)
    with pytest.raises(UserError) as caught:
        DeploymentStore(path)
    assert caught.value.message == f"{path} is in use by another somlier api (pid {os.getpid()})"
    assert caught.value.hint == "stop that one first, or pass another --db PATH"
    assert first.get(ident).status == "running"  # type: ignore[union-attr]  # not "recovered"
    first.close()
    DeploymentStore(path).close()  # free again once the owner closed it
