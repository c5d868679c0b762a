"""The one error handler: exit codes and what the user sees for each kind of failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main as cli_main
from pipeline.config import validation
from pipeline.errors import StepFailed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-projects"


def _boom(*_args: object, **_kwargs: object) -> object:
    raise RuntimeError("something impossible")


def test_internal_error_exit_3_with_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr("pipeline.cli.validate_cmd.validate_files", _boom)
    assert cli_main.main(["validate", str(EXAMPLE)]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: something impossible" in err
    assert "Traceback" not in err
    logs = list((tmp_path / "somlier").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err
    text = logs[0].read_text()
    assert "Traceback" in text and "somlier 0." in text and "python: 3." in text


def test_interrupt_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_a: object, **_k: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr("pipeline.cli.validate_cmd.validate_files", interrupted)
    assert cli_main.main(["validate", str(EXAMPLE)]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_step_failure_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failed(*_a: object, **_k: object) -> object:
        raise StepFailed("the build of churn-model failed", hint="see the log above")

    monkeypatch.setattr("pipeline.cli.validate_cmd.validate_files", failed)
    assert cli_main.main(["validate", str(EXAMPLE)]) == 1
    assert capsys.readouterr().err == (
        "error: the build of churn-model failed\nhint: see the log above\n"
    )


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["validate", "--format", "xml"]) == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err


def test_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["config", "--help"]) == 0
    out = capsys.readouterr().out
    assert "show" in out and "run" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("somlier, version ")


def test_validate_in_process_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert validation.PARALLEL_THRESHOLD > 3  # the examples are checked serially, in-process
    assert cli_main.main(["validate", str(EXAMPLE)]) == 0
    # the three projects and the monorepo's .somlier/platform.yaml
    assert capsys.readouterr().err.strip() == "4 files checked: all valid"
