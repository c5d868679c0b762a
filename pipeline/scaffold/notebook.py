"""``somlier notebook``: a Jupyter notebook as a Python script that runs under plain ``python``.

jupytext writes the code cells in the percent format (``# %%`` markers, Markdown as comments) and
comments out IPython magics (``%pip``, ``%%time``) and shell escapes (``!pip install``). Cell
magics whose body is not Python (``%%writefile``, ``%%html``...) become comments entirely. The
result is parsed again: a script that would not compile is refused, naming the cell.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import UserError

# Cell magics whose body is Python: only their first line is commented out.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_CELL_MAGIC = re.compile(r"\s*%%([A-Za-z_][\w-]*)")
FORMAT = "py:percent"


@dataclass(frozen=True)
class Converted:
    source: Path
    script: str
    code_cells: int
    commented_cells: int


def _read(path: Path) -> Any:
    import jupytext  # type: ignore[import-untyped]
    import nbformat

    if not path.is_file():
        raise UserError(f"{path}: no such notebook")
    if path.suffix != ".ipynb":
        raise UserError(f"{path}: not a notebook", hint="pass an .ipynb file")
    try:
        return jupytext.read(path, fmt="ipynb")
    except (nbformat.reader.NotJSONError, ValueError, KeyError) as exc:
        raise UserError(f"{path}: not a readable notebook: {str(exc)[:200]}") from None


def convert(path: Path) -> Converted:
    """The script for the notebook at ``path`` (nothing is written)."""
    import jupytext
    import nbformat

    notebook = _read(path)
    commented = 0
    code_cells = 0
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            code_cells += 1
            cell.outputs, cell.execution_count = [], None
            magic = _CELL_MAGIC.match(cell.source)
            if magic and magic.group(1) not in PYTHON_CELL_MAGICS:
                # A raw cell: jupytext writes it as a comment block, kept apart from the code.
                cell = nbformat.v4.new_raw_cell(cell.source)  # type: ignore[no-untyped-call]
                commented += 1
        cells.append(cell)
    notebook.cells = cells
    # No jupytext header: the script is for running, and the notebook stays the source.
    notebook.metadata.setdefault("jupytext", {})["notebook_metadata_filter"] = "-all"
    script = jupytext.writes(notebook, fmt=FORMAT)
    _check(path, script)
    return Converted(path, script, code_cells, commented)


def _check(path: Path, script: str) -> None:
    try:
        ast.parse(script, filename=str(path))
    except SyntaxError as exc:
        line = exc.lineno or 0
        cell = _code_cells_before(script, line)
        raise UserError(
            f"{path}: code cell {cell} is not Python once magics are commented out "
            f"(line {line} of the script: {exc.msg})",
            hint="fix the cell in the notebook, or turn it into Markdown",
        ) from None


def _code_cells_before(script: str, line: int) -> int:
    """How many code cell markers the script has up to ``line`` (the 1-based cell number)."""
    count = 0
    for text in script.splitlines()[:line]:
        if text == "# %%" or (
            text.startswith("# %% ") and "[markdown]" not in text and "[raw]" not in text
        ):
            count += 1
    return count


def write(converted: Converted, output: Path, *, force: bool) -> None:
    """Write the script to ``output``; an existing file only with ``force``."""
    if output.exists() and not force:
        raise UserError(f"{output} already exists", hint="pass --force to overwrite it")
    if output.resolve() == converted.source.resolve():
        raise UserError(f"{output} is the notebook itself", hint="choose another output file")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(converted.script, encoding="utf-8")
