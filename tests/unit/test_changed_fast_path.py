"""``somlier pipeline changed`` without click: the fast path reads every command line it accepts
exactly as the click command does, and leaves every other one to click."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import entry, pipeline_changed_fast
from pipeline.cli.pipeline_cmd import changed as click_changed


def _click_reads(args: list[str]) -> pipeline_changed_fast.Options:
    ctx = click_changed.make_context("changed", list(args))
    p = ctx.params
    return pipeline_changed_fast.Options(p["base"], p["head"], p["as_json"], p["matrix"], p["repo"])


def test_the_fast_path_knows_every_option_of_the_click_command() -> None:
    names = {o for param in click_changed.params for o in param.opts if o.startswith("-")}
    names.discard("--help")
    assert names == set(pipeline_changed_fast._VALUED) | set(pipeline_changed_fast._FLAGS)


@pytest.mark.parametrize(
    "args",
    [
        ["--base", "main"],
        ["--base=main"],
        ["--base", "main", "--head", "feature", "--json"],
        ["--matrix", "--base", "origin/main", "--head=HEAD~1"],
        ["--base", "a", "--base", "b"],  # the last one wins, as in click
        ["-C", "some/dir", "--base", "main"],
        ["--repo=some/dir", "--base", "v1.0", "--json", "--json"],
        ["--base", "main", "--repo", "."],
    ],
)
def test_accepted_command_lines_read_as_click_reads_them(args: list[str]) -> None:
    assert pipeline_changed_fast.parse(args) == _click_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        [],  # --base is required: click says so
        ["--help"],
        ["-h"],
        ["--head", "x"],
        ["--base"],
        ["--base", "main", "--json", "--matrix"],
        ["--base", "main", "extra"],
        ["--base", "main", "--unknown"],
        ["--base", "--json"],  # a value that looks like an option
        ["--base="],
        ["-Cdir", "--base", "main"],
        ["--bas", "main"],
        ["--base", "main", "--"],
    ],
)
def test_everything_else_goes_to_click(args: list[str]) -> None:
    assert pipeline_changed_fast.parse(args) is None


def test_a_file_given_as_the_repository_goes_to_click(tmp_path: Path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    assert pipeline_changed_fast.parse(["--base", "main", "-C", str(a_file)]) is None
    with pytest.raises(click.BadParameter):
        _click_reads(["--base", "main", "-C", str(a_file)])


_TOKENS = st.sampled_from(
    [
        "--base",
        "--head",
        "--json",
        "--matrix",
        "-C",
        "--repo",
        "main",
        "HEAD",
        "x/y",
        "--base=b",
        "--head=h",
        "--repo=r",
        "-",
        "--",
        "v1",
    ]
)


@given(st.lists(_TOKENS, max_size=7))
def test_any_command_line_the_fast_path_accepts_click_reads_alike(args: list[str]) -> None:
    fast = pipeline_changed_fast.parse(args)
    if fast is not None:
        assert fast == _click_reads(args)


def test_failures_on_the_fast_path_get_the_contract_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.errors import UserError

    def unknown(*_a: object, **_k: object) -> object:
        raise UserError("--base 'nope': unknown revision (no such commit)", hint="check the name")

    monkeypatch.setattr("pipeline.monorepo.detect.detect", unknown)
    assert entry.main(["pipeline", "changed", "--base", "nope"]) == 2
    assert capsys.readouterr().err == (
        "error: --base 'nope': unknown revision (no such commit)\nhint: check the name\n"
    )

    def interrupted(*_a: object, **_k: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr("pipeline.monorepo.detect.detect", interrupted)
    assert entry.main(["pipeline", "changed", "--base", "main"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--base", "main", "--matrix", "--max-jobs", "7"],
        ["--max-jobs=300", "--base", "main", "--matrix"],
        ["--base", "main", "--max-jobs", "1", "--max-jobs", "256"],
    ],
)
def test_max_jobs_reads_as_click_reads_it(args: list[str]) -> None:
    jobs = click_changed.make_context("changed", list(args)).params["max_jobs"]
    assert pipeline_changed_fast.parse(args) == _click_reads(args)._replace(max_jobs=jobs)


@pytest.mark.parametrize("value", ["0", "-1", "x", "+7", " 7", "", "٣"])
def test_a_max_jobs_click_must_judge_goes_to_click(value: str) -> None:
    assert pipeline_changed_fast.parse(["--base", "main", "--max-jobs", value]) is None
