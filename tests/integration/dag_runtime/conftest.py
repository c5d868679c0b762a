"""Fixtures for the Airflow side: a real Airflow (its own virtualenv, made on first use) and
mlops-dags repositories in tmp dirs, written from the DAG contract somlier renders.

``airflow``         the Airflow install (``airflow_venv.Airflow``: python, version, provider
                    version), once per supported major version: every test that uses it, or
                    ``airflow_python`` or ``check``, runs on Airflow 3 and on Airflow 2 (ids
                    ``airflow3``, ``airflow2``); fails, never skips, without one
``airflow_python``  its python
``dags_repo``       ``dags_repo({"dags/p/x.py": text, …})``: a folder with ``operators/`` from
                    ``somlier dags init`` and the given files
``contract_dag``    ``contract_dag("x_daily", num_of_gpus=1, …)``: a DAG file's text, exactly the
                    shape somlier renders for the Airflow under test, with the task's arguments
                    overridden
``check``           ``check(repo, "--json")``: ``somlier dags check`` through ``main()``:
                    (exit code, stdout, stderr)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.dags.repo import init_dags_repo
from pipeline.offline.spec import DAG_MODULES
from tests.integration.dag_runtime.airflow_venv import MAJORS, Airflow, AirflowUnavailable
from tests.integration.dag_runtime.airflow_venv import airflow as _airflow
from tests.integration.dag_runtime.contract import render_contract


# Module scope, not session: pytest then runs a module's tests on one Airflow, then on the
# other, and the module's own fixtures (podrun's image) are made once for both.
@pytest.fixture(scope="module", params=MAJORS, ids=[f"airflow{m}" for m in MAJORS])
def airflow(request: pytest.FixtureRequest) -> Airflow:
    try:
        return _airflow(request.param)
    except AirflowUnavailable as exc:
        pytest.fail(f"no Airflow {request.param} for the Airflow tests: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def airflow_python(airflow: Airflow) -> Path:
    return airflow.python


@pytest.fixture
def contract_dag(airflow: Airflow) -> Callable[..., str]:
    """For the Airflow under test: DAG imported as somlier renders it for that major version."""
    return functools.partial(render_contract, dag_module=DAG_MODULES[airflow.major])


@pytest.fixture
def dags_repo(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    def make(files: Mapping[str, str], name: str = "mlops-dags") -> Path:
        root = tmp_path / name
        init_dags_repo(root)
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture
def check(
    airflow_python: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    def run(repo: Path, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["dags", "check", str(repo), "--airflow-python", str(airflow_python), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
