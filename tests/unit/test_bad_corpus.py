"""Every file of ``tests/data/bad/`` fails with exactly the diagnostics ``expected.yaml`` lists,
both through ``check_file`` and through ``somlier validate``."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.cli.main import main
from pipeline.config import yamlsafe
from pipeline.config.project import check_file
from pipeline.config.validation import shown_path
from pipeline.errors import EXIT_USER_ERROR, Diagnostic

BAD = Path(__file__).resolve().parent.parent / "data" / "bad"
EXPECTED_FILE = BAD / "expected.yaml"
NOT_CASES = {"expected.yaml"}
TOO_LARGE = "too_large_generated.yaml"
UNSET = "UNLISTED_VERSION"  # undefined_variable.yaml refers to it

# Words that betray a Python exception leaking into a user-facing message.
TRACEBACK_WORDS = (
    "Traceback",
    'File "',
    "Error:",
    "Exception",
    "RecursionError",
    "object at 0x",
    "internal error",
)


def _expected() -> dict[str, list[dict[str, Any]]]:
    loaded = yaml.safe_load(EXPECTED_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


EXPECTED = _expected()
CASES = sorted(p.name for p in BAD.glob("*.yaml") if p.name not in NOT_CASES)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.delenv("EPOCHS", raising=False)
    for name in list(os.environ):
        if name.startswith("SOMLIER__"):  # platform overrides of the developer's shell
            monkeypatch.delenv(name)
    # A crash (exit 3) writes a log; keep it out of the home folder.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def too_large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid somlier.yaml but for its size, just over the limit (generated, not committed)."""
    folder = tmp_path_factory.mktemp("large")
    lines = [
        "project: {name: too-large}\n",
        "model: {name: too-large, version: v0.0.1}\n",
        "entrypoints: {main: {command: python}}\n",
    ]
    size = sum(len(x) for x in lines)
    index = 0
    while size <= yamlsafe.MAX_BYTES:
        line = f"# padding line {index:08d} of a file that is far too large to be a config\n"
        lines.append(line)
        size += len(line)
        index += 1
    path = folder / TOO_LARGE
    path.write_text("".join(lines), encoding="utf-8")
    (folder / "requirements.txt").write_text("", encoding="utf-8")
    assert path.stat().st_size > yamlsafe.MAX_BYTES
    return path


def _path(name: str, too_large: Path) -> Path:
    return too_large if name == TOO_LARGE else BAD / name


def _expected_for(name: str) -> list[dict[str, Any]]:
    if name == TOO_LARGE:
        return [{"line": 0, "col": 0, "contains": ["larger than 1024 KiB"]}]
    return EXPECTED[name]


def _contains(item: dict[str, Any]) -> list[str]:
    words = item["contains"]
    return [words] if isinstance(words, str) else list(words)


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 35
    assert set(CASES) == set(EXPECTED), "every bad file needs an entry in expected.yaml, and back"
    for name, items in EXPECTED.items():
        assert items, name
        for item in items:
            assert set(item) == {"line", "col", "contains"}, (name, item)
            assert _contains(item), name


def _assert_matches(name: str, diagnostics: list[Diagnostic]) -> None:
    expected = _expected_for(name)
    got = Counter((d.line, d.col) for d in diagnostics)
    want = Counter((e["line"], e["col"]) for e in expected)
    shown = [d.format() for d in diagnostics]
    assert got == want, shown
    unmatched = list(diagnostics)
    for item in expected:
        candidates = [
            d
            for d in unmatched
            if (d.line, d.col) == (item["line"], item["col"])
            and all(w in d.format() for w in _contains(item))
        ]
        assert candidates, f"no diagnostic at {item['line']}:{item['col']} contains {item}: {shown}"
        unmatched.remove(candidates[0])


@pytest.mark.parametrize("name", [*CASES, TOO_LARGE])
def test_check_file_reports_exactly_the_expected_diagnostics(name: str, too_large: Path) -> None:
    path = _path(name, too_large)
    report = check_file(path, name, {})
    assert not report.ok
    assert report.project is None
    assert report.dag_ids == ()
    _assert_matches(name, list(report.diagnostics))
    for diag in report.diagnostics:
        assert diag.path == name
        assert diag.message
        assert not any(word in diag.format() for word in TRACEBACK_WORDS), diag.format()
        where = f"{name}:{diag.line}:{diag.col}" if diag.line else name
        assert diag.format().startswith(f"{where}: error: ")


@pytest.mark.parametrize("name", [*CASES, TOO_LARGE])
def test_somlier_validate_exits_2(
    name: str, too_large: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _path(name, too_large)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == EXIT_USER_ERROR, out + err
    for word in TRACEBACK_WORDS:
        assert word not in out + err
    lines = out.splitlines()
    expected = _expected_for(name)
    assert len(lines) == len(expected), out
    shown = shown_path(path, Path.cwd())
    printed: Counter[tuple[int, int]] = Counter()
    for line in lines:
        assert line.startswith(shown), line
        where, _, message = line[len(shown) :].partition(": error: ")
        assert message, line
        row, _, col = where.lstrip(":").partition(":")
        printed[(int(row or 0), int(col or 0))] += 1
    assert printed == Counter((e["line"], e["col"]) for e in expected), out
    assert "checked:" in err
    assert "error" in err


def test_validate_json_lists_every_bad_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--json", *(str(BAD / name) for name in CASES)])
    out, _ = capsys.readouterr()
    assert code == EXIT_USER_ERROR
    result = json.loads(out)
    assert result["ok"] is False
    ours = [f for f in result["files"] if Path(f["path"]).parent.name == "bad"]
    files = {Path(f["path"]).name: f for f in ours}
    assert set(files) == set(CASES)
    for name, found in files.items():
        assert found["ok"] is False
        assert found["project"] is None
        assert sorted((e["line"], e["col"]) for e in found["errors"]) == sorted(
            (e["line"], e["col"]) for e in EXPECTED[name]
        ), name
