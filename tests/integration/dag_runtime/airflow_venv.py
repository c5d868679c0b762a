"""The Airflow virtualenv of the integration tests: ``.ci/airflow.sh`` makes it once (about a
minute and a half), every later run finds it. Also for other test modules that need a real
Airflow: ``from tests.integration.dag_runtime.airflow_venv import airflow_python``.

SOMLIER_AIRFLOW_PYTHON, when set, names the python to use instead (and must import airflow).
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / ".ci" / "airflow.sh"


class AirflowUnavailable(RuntimeError):
    pass


def _imports_airflow(python: Path) -> bool:
    with tempfile.TemporaryDirectory() as home:  # importing airflow makes $AIRFLOW_HOME/logs
        done = subprocess.run(
            [str(python), "-I", "-c", "import airflow.providers.cncf.kubernetes"],
            capture_output=True,
            env={"PATH": os.environ.get("PATH", ""), "AIRFLOW_HOME": home},
            timeout=300,
            check=False,
        )
    return done.returncode == 0


@functools.cache
def airflow_python() -> Path:
    """The python of an Airflow 3 install with the cncf.kubernetes provider (installed if
    missing); raises AirflowUnavailable, saying why, when there is none and none can be made."""
    explicit = os.environ.get("SOMLIER_AIRFLOW_PYTHON")
    if explicit:
        if not _imports_airflow(Path(explicit)):
            raise AirflowUnavailable(f"SOMLIER_AIRFLOW_PYTHON={explicit} cannot import airflow")
        return Path(explicit)
    found = subprocess.run(
        ["bash", str(SCRIPT), "python"], capture_output=True, text=True, timeout=300, check=False
    )
    if found.returncode == 0:
        return Path(found.stdout.strip())
    made = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if made.returncode != 0:
        raise AirflowUnavailable(
            f"{SCRIPT} failed with exit code {made.returncode}:\n{made.stderr[-3000:]}"
        )
    return Path(made.stdout.strip().splitlines()[-1])
