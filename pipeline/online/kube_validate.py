"""Strict validation of Kubernetes manifests against the schemas kubernetes-validate ships.

The library's own ``validate()`` stops at the first problem and compares versions as strings, so
this module picks the schema file itself (the same files, the ``-strict`` variant: unknown fields
are errors) and collects every problem of every document before raising one error.

Kinds kubernetes-validate has no schema for (CRDs such as Istio's VirtualService) are validated
against a JSON Schema the caller passes in ``extra_schemas``; a kind with no schema at all is an
error, never silently skipped.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import UserError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")

# (apiVersion, kind) -> JSON Schema, for kinds kubernetes-validate does not know.
ExtraSchemas = Mapping[tuple[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Problem:
    """One finding: which document, where inside it (``spec.template.spec.containers[0]``), what."""

    kind: str
    name: str
    path: str
    message: str

    def format(self) -> str:
        where = f"{self.kind}/{self.name}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(UserError):
    """Some manifests do not validate; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem], *, kubernetes_version: str) -> None:
        count = len(problems)
        lines = [
            f"{count} problem{'s' if count != 1 else ''} in the Kubernetes manifests "
            f"(strict schemas of Kubernetes {kubernetes_version}):"
        ]
        lines += [f"  {p.format()}" for p in problems]
        super().__init__(
            "\n".join(lines),
            hint="fix the serving settings (somlier.yaml `online:`) or the template that "
            "produced these fields",
        )
        self.problems = problems
        self.kubernetes_version = kubernetes_version


def library_version() -> str:
    from kubernetes_validate.version import __version__

    return str(__version__)


@functools.cache
def supported_versions() -> tuple[str, ...]:
    """The ``major.minor`` Kubernetes versions the installed kubernetes-validate has schemas for."""
    from kubernetes_validate import utils

    found = {_major_minor(v) for v in utils.all_versions() if _VERSION.match(v)}
    return tuple(sorted(found, key=lambda v: tuple(int(p) for p in v.split("."))))


def _major_minor(version: str) -> str:
    match = _VERSION.match(version.strip())
    if not match:
        return ""
    return f"{int(match.group(1))}.{int(match.group(2))}"


def check_version(kubernetes_version: str) -> str:
    """``1.30`` for ``1.30``, ``v1.30`` or ``1.30.2``; a clear error for an unsupported one."""
    wanted = _major_minor(str(kubernetes_version))
    supported = supported_versions()
    if wanted not in supported:
        raise UserError(
            f"Kubernetes version {kubernetes_version!r} is not supported by kubernetes-validate "
            f"{library_version()} (it ships schemas for {supported[0]} to {supported[-1]})",
            hint="set kubernetes.version in .somlier/platform.yaml "
            "(or SOMLIER__KUBERNETES__VERSION) to one of those",
        )
    return wanted


def _api_file_part(api_version: str) -> str:
    # apps/v1 -> apps-v1, policy/v1 -> policy-v1, autoscaling/v2 -> autoscaling-v2,
    # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1 (as kubernetes-validate names its files)
    return re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)


@functools.cache
def _definitions(version: str) -> Any:
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    defs = utils.schema_contents(
        f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json", version
    )
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def _builtin_validator(version: str, api_version: str, kind: str) -> Any | None:
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Resource

    if not re.fullmatch(r"[A-Za-z0-9./-]+", api_version) or not re.fullmatch(r"[A-Za-z0-9]+", kind):
        return None
    filename = (
        f"kubernetes-json-schema/v{version}.0-local-strict/"
        f"{kind.lower()}-{_api_file_part(api_version)}.json"
    )
    try:
        schema = utils.schema_contents(filename, version)
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ _definitions(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _extra_validator(schema: Mapping[str, Any]) -> Any:
    import jsonschema

    frozen = json.loads(json.dumps(schema))
    jsonschema.Draft202012Validator.check_schema(frozen)
    return jsonschema.Draft202012Validator(frozen)


def _format_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _leaf_errors(error: Any) -> list[Any]:
    """For oneOf/anyOf failures, the most specific sub-error says more than "is not valid"."""
    from jsonschema.exceptions import best_match

    if error.context:
        return [best_match(error.context)]
    return [error]


def _identity(doc: Mapping[str, Any]) -> tuple[str, str]:
    kind = doc.get("kind")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return (
        kind if isinstance(kind, str) and kind else "<no kind>",
        name if isinstance(name, str) and name else "<no name>",
    )


def problems_of(
    documents: list[dict[str, Any]],
    *,
    kubernetes_version: str,
    extra_schemas: ExtraSchemas | None = None,
) -> list[Problem]:
    """Every problem of every document, in document order then path order (empty: all valid)."""
    version = check_version(kubernetes_version)
    extras = {key: _extra_validator(schema) for key, schema in (extra_schemas or {}).items()}
    problems: list[Problem] = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, Mapping):
            problems.append(
                Problem("<document>", f"#{index + 1}", "", "is not a mapping (an object)")
            )
            continue
        kind, name = _identity(doc)
        api_version = doc.get("apiVersion")
        if not isinstance(api_version, str) or not isinstance(doc.get("kind"), str):
            problems.append(Problem(kind, name, "", "apiVersion and kind are required strings"))
            continue
        validator = extras.get((api_version, kind)) or _builtin_validator(
            version, api_version, kind
        )
        if validator is None:
            problems.append(
                Problem(
                    kind,
                    name,
                    "",
                    f"no schema for kind {kind} with apiVersion {api_version} in "
                    f"Kubernetes {version}",
                )
            )
            continue
        found = [leaf for error in validator.iter_errors(doc) for leaf in _leaf_errors(error)]
        found.sort(key=lambda e: (_format_path(e.absolute_path), e.message))
        problems += [Problem(kind, name, _format_path(e.absolute_path), e.message) for e in found]
    return problems


def validate_manifests(
    documents: list[dict[str, Any]],
    *,
    kubernetes_version: str,
    extra_schemas: ExtraSchemas | None = None,
) -> None:
    """Raise :class:`ManifestError` (a UserError, exit 2) listing every problem, if any."""
    problems = problems_of(
        documents, kubernetes_version=kubernetes_version, extra_schemas=extra_schemas
    )
    if problems:
        raise ManifestError(problems, kubernetes_version=check_version(kubernetes_version))
