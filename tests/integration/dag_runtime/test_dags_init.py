"""``somlier dags init DIR``: the operators package copied into a dags repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.dags.repo import init_dags_repo, operator_files
from pipeline.resources import data_dir

SHIPPED = data_dir("dag_templates") / "operators"


def test_init_creates_then_finds_nothing_to_do_then_updates(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "mlops-dags"
    assert sorted(operator_files()) == ["__init__.py", "mlops_offline_operator.py"]

    assert main(["dags", "init", str(repo), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{repo}/operators/__init__.py: would be created",
        f"{repo}/operators/mlops_offline_operator.py: would be created",
    ]
    assert not repo.exists()

    assert main(["dags", "init", str(repo)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{repo}/operators/__init__.py: created",
        f"{repo}/operators/mlops_offline_operator.py: created",
    ]
    copied = repo / "operators" / "mlops_offline_operator.py"
    assert copied.read_bytes() == (SHIPPED / "mlops_offline_operator.py").read_bytes()
    assert copied.stat().st_mode & 0o777 == 0o644

    # an old copy is replaced; a file of the repo's own is left alone
    copied.write_text("# an older operator\n")
    own = repo / "operators" / "team_helpers.py"
    own.write_text("X = 1\n")
    assert [(w.path.name, w.status) for w in init_dags_repo(repo)] == [
        ("__init__.py", "unchanged"),
        ("mlops_offline_operator.py", "updated"),
    ]
    assert copied.read_bytes() == (SHIPPED / "mlops_offline_operator.py").read_bytes()
    assert own.read_text() == "X = 1\n"
    assert sorted(p.name for p in (repo / "operators").iterdir()) == [
        "__init__.py",
        "mlops_offline_operator.py",
        "team_helpers.py",
    ]  # no temporary file left behind


@pytest.mark.parametrize("where", ["file", "operators-file"])
def test_init_refuses_a_file_in_the_way(tmp_path: Path, where: str, capsys) -> None:
    repo = tmp_path / "repo"
    if where == "file":
        repo.write_text("")
    else:
        repo.mkdir()
        (repo / "operators").write_text("")
    assert main(["dags", "init", str(repo)]) == 2
    err = capsys.readouterr().err
    assert ("is a file" if where == "file" else "not a folder") in err
