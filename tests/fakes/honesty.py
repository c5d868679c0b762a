"""Is the fake GitHub honest? Parse its answers with githubkit's models of GitHub's API.

githubkit (PyPI) generates pydantic models and a REST client from GitHub's published OpenAPI
description. For each recorded answer, :func:`check_answer` finds the operation by method and
path template in githubkit's generated client (its docstring names the operation, its
``request(...)`` call names ``response_model=`` and ``error_models=``), then parses the body in
pydantic's strict mode and also rejects any field the description does not have.

Use it at the end of any test that drives :class:`~tests.fakes.FakeGitHub`::

    check_all_answers(fake)
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import typing
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from tests.fakes.github import FakeGitHub
from tests.fakes.server import RecordedRequest

VERSION_MODULES = {"2022-11-28": "v2022_11_28", "2026-03-10": "v2026_03_10"}
# routes GitHub still serves but no longer describes, checked with their successor's model
ALIASES = {
    ("GET", "/repos/{owner}/{repo}/git/refs"): (
        "GET",
        "/repos/{owner}/{repo}/git/matching-refs/{ref}",
    ),
    ("GET", "/repos/{owner}/{repo}/statuses/{sha}"): (
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/statuses",
    ),
}


_OPERATION = re.compile(r"^ {8}(GET|POST|PUT|PATCH|DELETE) (/\S*)$", re.MULTILINE)
_REQUEST_CALL = "self._github.request("


@cache
def _operations(version: str) -> dict[tuple[str, str], tuple[ast.expr | None, dict[str, ast.expr]]]:
    """(method, path template) → (response model, error models), from githubkit's REST client.

    Each generated method's docstring names its operation ("GET /repos/{owner}/{repo}") and its
    ``self._github.request(...)`` call carries ``response_model=`` and ``error_models=``. Only
    that call is parsed: the whole generated client is too big to parse on every run.
    """
    package = importlib.import_module(f"githubkit_schemas.{VERSION_MODULES[version]}.rest")
    operations = {}
    for source in sorted(Path(str(package.__file__)).parent.glob("*.py")):
        for chunk in source.read_text().split("\n    def ")[1:]:  # sync methods only
            operation = _OPERATION.search(chunk)
            start = chunk.find(_REQUEST_CALL)
            if operation is None or start < 0:
                continue
            call = ast.parse(_balanced(chunk, start + len(_REQUEST_CALL) - 1), mode="eval").body
            assert isinstance(call, ast.Call)
            keywords = {k.arg: k.value for k in call.keywords}
            errors = keywords.get("error_models")
            error_map = {}
            if isinstance(errors, ast.Dict):
                error_map = {
                    ast.literal_eval(k): v
                    for k, v in zip(errors.keys, errors.values, strict=True)
                    if k is not None
                }
            operations[(operation.group(1), operation.group(2))] = (
                keywords.get("response_model"),
                error_map,
            )
    # a change in how githubkit lays out its generated client must fail loudly, not pass
    assert len(operations) > 500, f"read only {len(operations)} operations from githubkit"
    return operations


def _balanced(text: str, open_paren: int) -> str:
    """``f(...)`` from the parenthesis at ``open_paren`` to its match, as a parsable call."""
    depth = 0
    for index in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return "f" + text[open_paren : index + 1]
    raise AssertionError("unbalanced githubkit source")


def _resolve(node: ast.expr, models: Any) -> Any:
    if isinstance(node, ast.Constant) and node.value is None:
        return type(None)
    if isinstance(node, ast.Name):
        return list if node.id == "list" else getattr(models, node.id)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        args = tuple(_resolve(item, models) for item in items)
        if node.value.id == "list":
            return list[args[0]]  # type: ignore[valid-type]
        if node.value.id == "Union":
            return typing.Union[args]  # noqa: UP007 - built at run time
    raise AssertionError(f"cannot read githubkit annotation {ast.unparse(node)}")


def _unknown_fields(value: Any, raw: Any, where: str = "$") -> list[str]:
    """Keys of the raw JSON that the validated model has no field for (pydantic drops them)."""
    found: list[str] = []
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        if type(value).model_config.get("extra") == "allow":
            return found
        fields = {(f.alias or name): name for name, f in type(value).model_fields.items()}
        for key, item in raw.items():
            if key not in fields:
                found.append(f"{where}.{key}")
            else:
                found += _unknown_fields(getattr(value, fields[key]), item, f"{where}.{key}")
    elif isinstance(value, list) and isinstance(raw, list):
        for index, (item, raw_item) in enumerate(zip(value, raw, strict=True)):
            found += _unknown_fields(item, raw_item, f"{where}[{index}]")
    return found


def check_answer(recorded: RecordedRequest) -> None:
    """Parse one answer of the fake GitHub as GitHub's description says it looks."""
    version = recorded.response_headers["X-GitHub-Api-Version-Selected"]
    models = importlib.import_module(f"githubkit_schemas.{VERSION_MODULES[version]}.models")
    what = f"{recorded.method} {recorded.path} -> {recorded.status}"
    if recorded.route is None:  # no such route, or an injected fault: GitHub's error body
        model: Any = models.ValidationError if recorded.status == 422 else models.BasicError
    else:
        key = ALIASES.get((recorded.method, recorded.route), (recorded.method, recorded.route))
        operations = _operations(version)
        assert key in operations, f"{what}: GitHub's description has no {key[0]} {key[1]}"
        response_model, error_models = operations[key]
        if 200 <= recorded.status < 300:
            if response_model is None:
                assert recorded.status == 204 and recorded.response_body == b"", what
                return
            model = _resolve(response_model, models)
        elif str(recorded.status) in error_models:
            model = _resolve(error_models[str(recorded.status)], models)
        else:
            model = models.ValidationError if recorded.status == 422 else models.BasicError
    parsed = TypeAdapter(model).validate_json(recorded.response_body, strict=True)
    unknown = _unknown_fields(parsed, json.loads(recorded.response_body))
    assert not unknown, f"{what}: fields GitHub's description does not have: {unknown}"
    if recorded.status >= 400:
        assert json.loads(recorded.response_body)["message"], what


def check_all_answers(fake: FakeGitHub) -> None:
    """Every answer the fake gave so far, checked; and no bug of the fake itself."""
    assert fake.errors == [], "\n".join(fake.errors)
    for recorded in fake.requests:
        check_answer(recorded)
