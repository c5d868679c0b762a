"""The Airflow virtualenvs of the integration tests, one per supported major version:
``.ci/airflow.sh 3`` makes ``.venv-airflow`` and ``.ci/airflow.sh 2`` makes ``.venv-airflow2``
(a few minutes each, once), every later run finds them. Also for other test modules that need a
real Airflow: ``from tests.integration.dag_runtime.airflow_venv import airflow_python``.

SOMLIER_AIRFLOW_PYTHON (Airflow 3) and SOMLIER_AIRFLOW2_PYTHON (Airflow 2), when set, name the
python to use instead (it must import an Airflow of that major version).
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / ".ci" / "airflow.sh"
MAJORS = (3, 2)  # what somlier supports, newest first (docs/dags.md)
OVERRIDES = {3: "SOMLIER_AIRFLOW_PYTHON", 2: "SOMLIER_AIRFLOW2_PYTHON"}
_VERSIONS = (
    "import importlib.metadata as m, airflow.providers.cncf.kubernetes;"
    "print(m.version('apache-airflow'), m.version('apache-airflow-providers-cncf-kubernetes'))"
)


class AirflowUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Airflow:
    """One Airflow install: its python, and the versions it reports."""

    python: Path
    version: str  # apache-airflow, e.g. "3.3.2"
    provider_version: str  # apache-airflow-providers-cncf-kubernetes

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _probe(python: Path) -> Airflow | None:
    with tempfile.TemporaryDirectory() as home:  # importing airflow makes $AIRFLOW_HOME/logs
        done = subprocess.run(
            [str(python), "-I", "-c", _VERSIONS],
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), "AIRFLOW_HOME": home},
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        return None
    version, provider = done.stdout.split()[-2:]
    return Airflow(python, version, provider)


def _checked(python: Path, major: int, source: str) -> Airflow:
    found = _probe(python)
    if found is None:
        raise AirflowUnavailable(f"{source}: {python} cannot import airflow and its provider")
    if found.major != major:
        raise AirflowUnavailable(f"{source}: {python} has Airflow {found.version}, not {major}.x")
    return found


@functools.cache
def airflow(major: int = 3) -> Airflow:
    """The Airflow ``major`` install with the cncf.kubernetes provider (installed if missing);
    raises AirflowUnavailable, saying why, when there is none and none can be made."""
    explicit = os.environ.get(OVERRIDES[major])
    if explicit:
        return _checked(Path(explicit), major, OVERRIDES[major])
    script = ["bash", str(SCRIPT), str(major)]
    found = subprocess.run(
        [*script, "python"], capture_output=True, text=True, timeout=300, check=False
    )
    if found.returncode == 0:
        return _checked(Path(found.stdout.strip()), major, str(SCRIPT))
    made = subprocess.run(script, capture_output=True, text=True, timeout=1800, check=False)
    if made.returncode != 0:
        raise AirflowUnavailable(
            f"{SCRIPT} {major} failed with exit code {made.returncode}:\n{made.stderr[-3000:]}"
        )
    return _checked(Path(made.stdout.strip().splitlines()[-1]), major, str(SCRIPT))


def airflow_python(major: int = 3) -> Path:
    """The python of :func:`airflow` ``(major)``."""
    return airflow(major).python
