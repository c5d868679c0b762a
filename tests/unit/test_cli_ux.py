"""What a person at the terminal notices: typos answered with the command meant, a taken project
folder refused before the other questions, and progress of long steps that never mixes with a
command's structured output."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli, main
from pipeline.notify.progress import Progress, choose_mode


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["confg"], "'config'"),
        (["valdate"], "'validate'"),
        (["online", "deplyo"], "'deploy'"),
        (["online", "regster"], "'register'"),
        (["offline", "craete"], "'create'"),
        (["config", "shwo"], "'show'"),
        (["dags", "chek"], "'check'"),
        (["pipeline", "bulid"], "'build'"),
    ],
)
def test_a_mistyped_command_names_the_one_meant(
    argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"No such command {argv[-1]!r}. Did you mean {meant}?" in err
    assert "Traceback" not in err


def test_a_command_nothing_resembles_gets_no_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zzzz"]) == 2
    err = capsys.readouterr().err
    assert "No such command 'zzzz'." in err and "Did you mean" not in err


def test_a_taken_project_folder_is_refused_before_the_other_questions(tmp_path: Path) -> None:
    (tmp_path / "nuj-project").mkdir()
    result = CliRunner().invoke(
        cli, ["new-project", "-o", str(tmp_path)], input="nuj-project\nother-project\n\n\n\n\n"
    )
    assert result.exit_code == 0, result.output
    # the taken name is answered at once, then asked again; the other questions come after
    first_error = result.output.index("already exists")
    assert first_error < result.output.index("description")
    assert (tmp_path / "other-project" / "somlier.yaml").is_file()
    assert not any((tmp_path / "nuj-project").iterdir())


def test_a_taken_project_folder_named_by_flag_fails_without_a_question(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nuj-project").mkdir()
    code = main(["new-project", "-o", str(tmp_path), "--project-name", "nuj-project"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "already exists" in err and "description" not in out + err


@pytest.mark.parametrize(
    ("quiet", "tty", "environ", "mode"),
    [
        (True, True, {}, "off"),
        (False, True, {}, "live"),
        (False, False, {}, "plain"),
        (False, True, {"CI": "true"}, "plain"),
        (False, True, {"CI": "false"}, "live"),
        (False, True, {"TERM": "dumb"}, "plain"),
    ],
)
def test_progress_is_live_only_on_a_terminal(
    quiet: bool, tty: bool, environ: dict[str, str], mode: str
) -> None:
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    assert choose_mode(quiet=quiet, stream=Stream(), environ=environ) == mode


def test_plain_progress_is_one_line_at_the_start_and_one_at_the_end() -> None:
    stream = io.StringIO()
    with Progress("plain", stream).step("Installing requirements"):
        pass
    start, end = stream.getvalue().splitlines()
    assert start == "Installing requirements ..."
    assert end.startswith("✓ Installing requirements (") and end.endswith(" s)")


def test_a_failed_step_says_so_and_the_error_goes_on() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError, match="boom"), Progress("plain", stream).step("Build"):
        raise RuntimeError("boom")
    assert stream.getvalue().splitlines()[-1].startswith("✗ Build (failed after ")


def test_live_progress_ends_with_the_outcome_line() -> None:
    stream = io.StringIO()
    with Progress("live", stream).step("Starting the model server"):
        pass
    shown = stream.getvalue()
    assert "\x1b[" in shown  # drawn as a terminal draws it, then replaced by the outcome
    assert re.search(r"✓ Starting the model server \(\d+\.\d s\)\n$", shown)


def test_no_progress_under_json() -> None:
    stream = io.StringIO()
    with Progress("off", stream).step("Training"):
        pass
    assert stream.getvalue() == ""
