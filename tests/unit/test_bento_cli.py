"""``somlier online deploy``: argument checking and help, before any model is touched."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.cli import online_deploy_cmd
from pipeline.cli.main import main
from pipeline.online import deploy as online_deploy

LIGHT = {"__future__", "json", "os", "tempfile", "pathlib", "typing", "click", "pipeline"}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["online", "deploy", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["iris", "one"], "invalid model version 'one'"),
        (["iris", "0"], "invalid model version '0'"),
        (["bad name!", "1"], "invalid model name 'bad name!'"),
        (["iris", "1", "--once", "--dry-run"], "--once and --dry-run exclude each other"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run([*args, "-C", str(tmp_path)], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["iris", "1", "--port", "70000"], capsys)
    assert code == 2
    assert "--port" in err


def test_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["online", "deploy", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--use_k8s", "--istio", "--gpu", "--port", "--workers", "--once",
                   "--bundle-dir", "--dry-run", "--json"):  # fmt: skip
        assert option in out


def test_the_command_module_imports_only_light_things() -> None:
    tree = ast.parse(Path(online_deploy_cmd.__file__).read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert top <= LIGHT
    lazy = {
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.col_offset > 0
    }
    assert "pipeline.online.deploy" in lazy
    # ... whose serve_local (bentoml/mlflow) comes in only when serving.
    feature = ast.parse(Path(online_deploy.__file__).read_text())
    eager = {n.module for n in feature.body if isinstance(n, ast.ImportFrom)}
    assert not any(m and m.startswith(("pipeline.online.", "mlflow", "bentoml")) for m in eager)
    lazy = {
        n.module
        for n in ast.walk(feature)
        if isinstance(n, ast.ImportFrom) and n.module and n.col_offset > 0
    }
    assert "pipeline.online.serve_local" in lazy


def test_a_huge_model_name_is_not_echoed_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(["x!" * 60_000, "1", "-C", str(tmp_path)], capsys)
    assert code == 2
    assert "invalid model name 'x!x!" in err and "(119920 more)" in err
    assert len(out + err) < 1_000
