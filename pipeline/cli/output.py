"""How results are printed: text lines, stable JSON objects, GitHub Actions annotations."""

from __future__ import annotations

from typing import Any

from pipeline.config.validation import Result
from pipeline.errors import Diagnostic


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(diag: Diagnostic) -> str:
    """``::error file=…,line=…,col=…,title=…::message`` (workflow command escaping)."""
    props = [f"file={_escape_property(diag.path)}"]
    if diag.line:
        props += [f"line={diag.line}", f"col={diag.col or 1}"]
    props.append("title=somlier validate")
    message = diag.message + (f" ({diag.hint})" if diag.hint else "")
    return f"::error {','.join(props)}::{_escape_data(message)}"


def diagnostic_json(diag: Diagnostic) -> dict[str, Any]:
    return {
        "line": diag.line,
        "col": diag.col,
        "key": diag.key_path,
        "message": diag.message,
        "hint": diag.hint,
    }


def validation_json(result: Result) -> dict[str, Any]:
    """The stable ``somlier validate --json`` object."""
    return {
        "ok": result.ok,
        "checked": len(result.reports),
        "errors": result.error_count,
        "files": [
            {
                "path": r.path,
                "ok": r.ok,
                "project": r.project,
                "errors": [diagnostic_json(d) for d in r.diagnostics],
            }
            for r in result.reports
        ],
    }


def validation_summary(result: Result) -> str:
    total = len(result.reports)
    noun = "file" if total == 1 else "files"
    if result.ok:
        return f"{total} {noun} checked: all valid"
    bad = sum(1 for r in result.reports if not r.ok)
    errors = result.error_count
    errs = "error" if errors == 1 else "errors"
    bads = "file" if bad == 1 else "files"
    return f"{total} {noun} checked: {errors} {errs} in {bad} {bads}"
