"""The error answers of the API: every one is a :class:`Problem` (``detail`` for a human,
``errors`` for each field at fault), with messages that say what to send instead.

No message echoes more than :data:`MAX_MESSAGE` characters of what was sent: a 20 MB field
value is not sent back in a 40 MB answer."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pipeline.errors import UserError
from pipeline.server.limits import shown
from pipeline.server.schemas import DeployPayload, FieldProblem, Problem

MAX_MESSAGE = 300


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


def _unknown_field(name: str) -> str:
    known = list(DeployPayload.model_fields)
    close = difflib.get_close_matches(name[:100], known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
    return f"unknown field {shown(name)!r} ({hint})"


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        kind = str(err.get("type", "invalid"))
        if kind == "json_invalid":
            message = f"the body is not valid JSON: {err.get('ctx', {}).get('error', err['msg'])}"
            loc = loc[:1]
        elif kind == "extra_forbidden" and loc:
            message = _unknown_field(str(loc[-1]))
        elif loc == ["body"] and kind in ("model_attributes_type", "dict_type", "missing"):
            message = "send a JSON object (Content-Type: application/json)"
        elif kind == "value_error" and "error" in err.get("ctx", {}):
            message = str(err["ctx"]["error"])
        else:
            message = str(err.get("msg", "invalid value"))
        loc = [shown(p) if isinstance(p, str) else p for p in loc]
        errors.append(FieldProblem(loc=loc, message=shown(message, MAX_MESSAGE), type=kind))
    detail = "; ".join(f"{_where(e.loc)}: {e.message}" for e in errors) or "invalid request"
    return Problem(detail=detail, errors=errors)


def body_not_json(detail: str) -> Problem:
    """FastAPI could not even decode the body (e.g. it is not UTF-8)."""
    message = f"the body is not valid JSON: {shown(detail, MAX_MESSAGE)} (send UTF-8 JSON)"
    return Problem(
        detail=f"body: {message}",
        errors=[FieldProblem(loc=["body"], message=message, type="json_invalid")],
    )


def refused_request(exc: UserError) -> Problem:
    """A payload :class:`DeployRequest` refused: its message, on the field it is about."""
    field = "model_name"
    for prefix, name in (
        ("invalid model version", "model_version"),
        ("invalid env", "env"),
        ("no version", "model_version"),
    ):
        if exc.message.startswith(prefix):
            field = name
    return field_problem(field, exc.message, exc.hint)


def field_problem(field: str, message: str, hint: str | None = None) -> Problem:
    """A 422 about one field of the body."""
    text = shown(f"{message} ({hint})" if hint else message, MAX_MESSAGE)
    return Problem(
        detail=f"body.{field}: {text}",
        errors=[FieldProblem(loc=["body", field], message=text, type="value_error")],
    )


def answer(status_code: int, problem: Problem, headers: Mapping[str, str] | None = None) -> Any:
    """The JSON response carrying ``problem``."""
    return JSONResponse(problem.model_dump(mode="json"), status_code, headers=headers)
