"""`somlier notebook`: notebooks become scripts that plain Python can run.

The converted scripts are compiled and executed in-process here (no child process); the
integration tests run the template's notebook under a real `python`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

# jupytext's import probes for pandoc in a child process: import it at collection, before the
# unit tests' no-subprocess guard is in place.
import jupytext  # noqa: F401

# Likewise MLflow (it asks `uname -p` on import) and scikit-learn, which the template's script and
# test import.
import mlflow
import nbformat
import pytest
import sklearn.linear_model  # noqa: F401
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from pipeline import resources
from pipeline.cli.main import main
from pipeline.scaffold import notebook


def write_notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


MAGIC_CELLS = (
    new_markdown_cell("# Experiment\nSome *notes*."),
    new_code_cell("!pip install does-not-exist\n%matplotlib inline\nx = 1"),
    new_code_cell("%%time\ny = x + 1"),
    new_code_cell("%%bash\nrm -rf /\necho never"),
    new_code_cell("%%writefile out.txt\nthis is not python"),
    new_code_cell("%pip install also-not\nfiles = 3\nresult = [x, y, files]"),
)


def run_script(script: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(script, "train.py", "exec"), namespace)  # the test's own notebook
    return namespace


def test_magics_and_shell_escapes_become_comments_and_the_rest_runs(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "exp.ipynb", *MAGIC_CELLS)
    converted = notebook.convert(path)
    assert converted.code_cells == 5
    assert converted.commented_cells == 2  # %%bash and %%writefile: their bodies are not Python
    namespace = run_script(converted.script)
    assert namespace["result"] == [1, 2, 3]
    assert not (tmp_path / "out.txt").exists()
    comments = [line for line in converted.script.splitlines() if line.startswith("#")]
    expected = ["# !pip install does-not-exist", "# %matplotlib inline", "# %%time"]
    expected += ["# %%writefile out.txt", "# rm -rf /", "# %pip install also-not", "# # Experiment"]
    for text in expected:
        assert text in comments


def test_the_template_notebook_converts_to_a_script_that_parses() -> None:
    example = resources.data_dir("project_template") / "notebooks/example/example.ipynb"
    converted = notebook.convert(example)
    tree = ast.parse(converted.script)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {"mlflow", "mlflow.sklearn"} <= imported
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"mlflow.start_run", "mlflow.log_metric", "mlflow.sklearn.log_model"} <= calls


def test_the_converted_template_notebook_imports_without_training_and_passes_test_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tutorial's step: the notebook as train.py, then the template's test (`python -m
    test`, which imports `fit` from train): importing starts no MLflow run, and the test passes."""
    import importlib
    import sys

    template = resources.data_dir("project_template")
    converted = notebook.convert(template / "notebooks/example/example.ipynb")
    # At the top level: imports, parameters, functions, and the training under the main guard.
    top = ast.parse(converted.script).body
    kinds = {type(node).__name__ for node in top}
    assert kinds == {"Import", "ImportFrom", "Assign", "FunctionDef", "If"}
    [guard] = [node for node in top if isinstance(node, ast.If)]
    assert ast.unparse(guard.test) == "__name__ == '__main__'"
    assert "mlflow.start_run" in ast.unparse(guard)

    (tmp_path / "train.py").write_text(converted.script)
    (tmp_path / "test.py").write_bytes((template / "test.py").read_bytes())

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("importing train.py started MLflow tracking")

    monkeypatch.setattr(mlflow, "start_run", no_training)
    monkeypatch.setattr(mlflow, "set_experiment", no_training)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("train", "test"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        project_test = importlib.import_module("test")
        project_test.test_the_model_learns()
    finally:
        for name in ("train", "test"):
            sys.modules.pop(name, None)


def test_cli_writes_train_py_and_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_notebook(tmp_path / "exp.ipynb", new_code_cell("value = 41 + 1"))
    out = tmp_path / "train.py"
    assert main(["notebook", str(path), "-o", str(out)]) == 0
    assert "train.py was created" in capsys.readouterr().out
    assert run_script(out.read_text())["value"] == 42

    out.write_text("# my edits\n")
    assert main(["notebook", str(path), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "# my edits\n"

    assert main(["notebook", str(path), "-o", str(out), "--force", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body == {
        "notebook": str(path),
        "output": str(out),
        "code_cells": 1,
        "commented_cells": 0,
    }
    assert run_script(out.read_text())["value"] == 42


def test_dash_prints_the_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_notebook(tmp_path / "exp.ipynb", new_code_cell("print('hi')"))
    assert main(["notebook", str(path), "-o", "-"]) == 0
    assert "print('hi')" in capsys.readouterr().out
    assert not (tmp_path / "train.py").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.ipynb", None, "no such notebook"),
        ("script.py", "print(1)\n", "not a notebook"),
        ("broken.ipynb", "{not json", "not a readable notebook"),
    ],
)
def test_bad_input_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["notebook", str(path), "-o", str(tmp_path / "out.py")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.py").exists()


def test_a_cell_that_is_not_python_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_notebook(
        tmp_path / "exp.ipynb",
        new_markdown_cell("intro"),
        new_code_cell("a = 1"),
        new_code_cell("def broken(:\n    pass"),
    )
    assert main(["notebook", str(path), "-o", str(tmp_path / "out.py")]) == 2
    assert "code cell 2 is not Python" in capsys.readouterr().err
    assert not (tmp_path / "out.py").exists()


def test_the_notebook_itself_is_never_overwritten(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "exp.ipynb", new_code_cell("a = 1"))
    before = path.read_bytes()
    with pytest.raises(Exception, match="the notebook itself"):
        notebook.write(notebook.convert(path), path, force=True)
    assert path.read_bytes() == before
