"""somlier installed as a tool, as users install CLIs: `make dist`'s wheel installed with pipx
into a clean location, far from this checkout, then used on the example monorepo. The templates
and schemas must come from the installed package (the wheel's ``pipeline/_data``), never from
a source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(argv: list[str | Path], cwd: Path, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make dist` builds (the same command), into a tmp folder."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -o: the venv running the tests is up to date; make must not reinstall it from here
    stamp = BIN.parent / ".installed"
    run(["make", "-s", "-o", str(stamp), "dist", f"DIST={out}", f"VENV={BIN.parent}"], ROOT, env)
    return out


def test_dist_builds_a_wheel_and_an_sdist_with_the_data(dist: Path) -> None:
    [wheel] = dist.glob("somlier-*-py3-none-any.whl")
    [sdist] = dist.glob("somlier-*.tar.gz")
    assert wheel.stat().st_size > 0
    with tarfile.open(sdist) as tar:
        names = {Path(*Path(n).parts[1:]).as_posix() for n in tar.getnames()}
    shipped = [
        "schemas/somlier.schema.json",
        "project_template/somlier.yaml.j2",
        "dag_templates/default.py.j2",
        "actions/build/action.yml",
        "pipeline/cli/main.py",
    ]
    assert set(shipped) <= names
    assert any(n.startswith("deploy_templates/") for n in names)


def test_the_wheel_installed_with_pipx_works_far_from_the_checkout(
    dist: Path, tmp_path: Path
) -> None:
    [wheel] = dist.glob("somlier-*-py3-none-any.whl")
    home = tmp_path / "user"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PIPX_")
    }
    env |= {
        "HOME": str(home),
        "PIPX_HOME": str(home / "pipx"),
        "PIPX_BIN_DIR": str(home / "bin"),
        "PIPX_MAN_DIR": str(home / "man"),
        "PATH": f"{home / 'bin'}:/usr/bin:/bin",
    }
    run([BIN / "pipx", "install", wheel], tmp_path, env)
    somlier = home / "bin" / "somlier"
    assert somlier.is_file()

    from pipeline import __version__

    assert run([somlier, "--version"], tmp_path, env).strip() == f"somlier, version {__version__}"

    example = tmp_path / "ml-projects"  # a copy: nothing beside it is a somlier checkout
    shutil.copytree(ROOT / "examples" / "ml-projects", example)
    run([somlier, "validate", "projects"], example, env)
    run([somlier, "new-project", "--no-input", "-o", "projects"], example, env)
    assert (example / "projects" / "my-example-project" / "somlier.yaml").is_file()
    run([somlier, "validate", "projects/my-example-project"], example, env)

    python = home / "pipx" / "venvs" / "somlier" / "bin" / "python"
    data = ("schemas", "project_template", "dag_templates", "deploy_templates", "actions")
    code = f"from pipeline import resources; print(*map(resources.data_dir, {data!r}), sep=' ')"
    for folder in run([python, "-c", code], tmp_path, env).split():
        assert Path(folder).is_relative_to(home / "pipx"), folder
        assert "_data" in Path(folder).parts and not Path(folder).is_relative_to(ROOT)
