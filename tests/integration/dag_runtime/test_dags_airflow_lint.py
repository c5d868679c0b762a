"""Airflow's own migration rules (ruff's ``AIR`` rules, the linter Airflow's upgrade guide names)
on the rendered DAG files: those for Airflow 3 use nothing Airflow 3 removed or deprecated; the
one for Airflow 2 differs only by the import that Airflow 2 needs and Airflow 3 deprecates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
GOLDENS = sorted((ROOT / "tests" / "data" / "dags").glob("*.py"))
RUFF = Path(sys.executable).parent / "ruff"
AIR = ["check", "--isolated", "--no-cache", "--preview", "--select=AIR", "--output-format=json"]


def _air_findings(path: Path) -> list[tuple[str, int]]:
    done = subprocess.run(
        [str(RUFF), *AIR, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return [(f["code"], f["location"]["row"]) for f in json.loads(done.stdout)]


@pytest.mark.parametrize("golden", GOLDENS, ids=[p.name for p in GOLDENS])
def test_rendered_dags_pass_airflow_3_migration_rules(golden: Path) -> None:
    found = _air_findings(golden)
    if golden.stem.endswith("_airflow2"):
        line = golden.read_text(encoding="utf-8").splitlines().index("with DAG(") + 1
        assert found == [("AIR311", line)]  # airflow.DAG: still works in 3, deprecated there
    else:
        assert found == []
