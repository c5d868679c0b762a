"""Atomic writes: the old file or the new one, never half of one, and no temp files left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipeline.offline.write import Outcome, outcome_of, write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_file_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "dags" / "proj" / "job.py"
    assert outcome_of(target, "x = 1\n") is Outcome.CREATED
    assert write_atomic(target, "x = '한국어'\n") is Outcome.CREATED
    assert target.read_bytes() == "x = '한국어'\n".encode()
    assert _mode(target) == 0o644
    assert os.listdir(target.parent) == ["job.py"]


def test_replaces_existing_file_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "job.py"
    target.write_text("old\n")
    target.chmod(0o664)
    assert outcome_of(target, "new\n") is Outcome.UPDATED
    assert write_atomic(target, "new\n") is Outcome.UPDATED
    assert target.read_text() == "new\n"
    assert _mode(target) == 0o664
    assert os.listdir(tmp_path) == ["job.py"]


def test_identical_content_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "job.py"
    write_atomic(target, "same\n")
    os.utime(target, (1, 1))
    assert outcome_of(target, "same\n") is Outcome.UNCHANGED
    assert write_atomic(target, "same\n") is Outcome.UNCHANGED
    assert target.stat().st_mtime == 1


def test_a_failed_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "job.py"
    target.write_text("old\n")

    def broken_replace(self: Path, other: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["job.py"]


def test_an_interrupted_write_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "job.py", "new\n")
    assert os.listdir(tmp_path) == []
