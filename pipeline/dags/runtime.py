"""Airflow in its own virtualenv: where its python is, and the probe run with no database.

Airflow's dependencies clash with somlier's, so it lives in another virtualenv (``.ci/airflow.sh``
makes ``.venv-airflow``) and somlier talks to it through one child process: ``probe.py``, run by
path in isolated mode, with a throwaway AIRFLOW_HOME and a configuration of its own.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline import proc
from pipeline.dags.facts import ProbeReport, from_json
from pipeline.errors import StepFailed, UserError

VENV = ".venv-airflow"
PROBE = Path(__file__).resolve().with_name("probe.py")
EXIT_NO_AIRFLOW = 4  # probe.py EXIT_NO_AIRFLOW
_CHECKOUT = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "make an Airflow virtualenv: in a somlier checkout run .ci/airflow.sh (it makes "
    f"{VENV}/, and .ci/airflow.sh 2 an Airflow 2 one); elsewhere: python3 -m venv {VENV} && "
    f"{VENV}/bin/pip install apache-airflow==3.3.2 (or 2.11.2) "
    "apache-airflow-providers-cncf-kubernetes==10.25.0; "
    "or pass --airflow-python (or set SOMLIER_AIRFLOW_PYTHON) to the python of an Airflow install"
)


def _venv_python(root: Path) -> Path:
    return root / VENV / "bin" / "python"


def candidates(cwd: Path) -> list[Path]:
    """Where an Airflow python is looked for, first match wins, when none is given."""
    found = [_venv_python(cwd)]
    if (_CHECKOUT / ".ci" / "airflow.sh").is_file():  # somlier runs from a source checkout
        found.append(_venv_python(_CHECKOUT))
    return list(dict.fromkeys(found))


def find_python(explicit: Path | None, cwd: Path) -> Path:
    """``explicit`` (``--airflow-python`` / SOMLIER_AIRFLOW_PYTHON), else the first candidate."""
    if explicit is not None:
        if not explicit.exists():
            raise UserError(f"{explicit}: no such Airflow python", hint=INSTALL_HINT)
        return explicit
    for path in candidates(cwd):
        if path.exists():
            return path
    tried = ", ".join(str(p) for p in candidates(cwd))
    raise UserError(f"no Airflow to import the DAGs with (tried {tried})", hint=INSTALL_HINT)


def airflow_env(home: Path, dag_folder: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of the probe: Airflow configured for a DagBag with no database.

    A DagBag only imports files; it needs a configuration (AIRFLOW_HOME, here a throwaway folder,
    so nothing is written to ~/airflow) but no metadata database. The database URL points into a
    folder that does not exist, so anything that tries one fails loudly instead of creating it.
    Nothing else of the caller's environment is passed on: the DAG files of a pull request run
    here, and they see no tokens.
    """
    env = {
        "AIRFLOW_HOME": str(home),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dag_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/no-database/airflow.db",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH": "50",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "DO_NOT_TRACK": "true",
        "SCARF_NO_ANALYTICS": "true",
    }
    for name in ("PATH", "TMPDIR", "TZ"):
        if name in environ:
            env[name] = environ[name]
    return env


def run_probe(
    python: Path,
    dag_folder: Path,
    roots: Sequence[Path],
    environ: Mapping[str, str],
) -> ProbeReport:
    """Fill a DagBag of ``dag_folder`` with ``python``'s Airflow; ``roots`` go on its sys.path."""
    argv: list[str] = [str(python), "-I", "-B", str(PROBE), str(dag_folder)]
    for root in roots:
        argv += ["--root", str(root)]
    with tempfile.TemporaryDirectory(prefix="somlier-airflow-") as home:
        env = airflow_env(Path(home), dag_folder, environ)
        result = proc.run(*argv, env=env, check=False, cwd=Path(home))
    if result.returncode == EXIT_NO_AIRFLOW:
        raise UserError(f"{python} cannot import airflow", hint=INSTALL_HINT)
    if result.returncode != 0:
        raise proc.ProcessError(result)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise StepFailed(
            f"the Airflow probe printed no JSON ({exc}); stderr:\n{result.stderr[-2000:]}"
        ) from exc
    return from_json(data)
