"""Load one somlier.yaml: safe YAML → ${VAR} → schema → semantic checks → :class:`ProjectConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pipeline.config import schema, yamlsafe
from pipeline.config.interpolate import FromEnv, InterpolationError, KeyPath, Read, interpolate_tree
from pipeline.errors import ConfigError, Diagnostic

if TYPE_CHECKING:
    from pipeline.config import model
    from pipeline.config.variables import Variables

FILENAME = "somlier.yaml"
SCHEMA = "somlier"


@dataclass(frozen=True)
class FileReport:
    """The outcome of checking one file: its diagnostics, or the names it claims in the repo."""

    path: str
    diagnostics: tuple[Diagnostic, ...] = ()
    project: str | None = None
    dag_ids: tuple[str, ...] = ()
    gpu_types: tuple[tuple[KeyPath, str], ...] = ()  # where each GPU type is asked for
    from_env: tuple[Read, ...] = ()  # values read from the environment, kept out of messages

    @property
    def ok(self) -> bool:
        return not self.diagnostics


class _Located:
    """Turns key paths into diagnostics for one file; a value read from the environment is shown
    as the ``${VAR}`` it was read from."""

    def __init__(self, shown: str, node: Any, text: str) -> None:
        self.shown = shown
        self.node = node
        self.lines = text.split("\n")
        self.from_env = FromEnv()
        self.found: list[Diagnostic] = []

    def add(self, path: KeyPath, message: str, hint: str = "", at_key: bool = False) -> None:
        line, col = schema.locate(self.node, path, at_key)
        message, hint = self.from_env.scrub(path, message), self.from_env.scrub(path, hint)
        self.found.append(
            Diagnostic(self.shown, line, col, message, hint, key_path=schema.format_path(path))
        )

    def add_interpolation(self, path: KeyPath, exc: InterpolationError) -> None:
        """At the ``${...}`` itself when the value's first line holds it."""
        self.add(path, exc.message, exc.hint)
        found = self.found[-1]
        if exc.source and 0 < found.line <= len(self.lines):
            at = self.lines[found.line - 1].find(exc.source, max(found.col - 1, 0))
            if at >= 0:
                self.found[-1] = found._replace(col=at + 1)


def _inside(root: Path, relative: str) -> bool:
    pure = PurePosixPath(relative)
    return not pure.is_absolute() and ".." not in pure.parts and not relative.startswith("~")


def _leaves(root: Path, relative: str) -> bool:
    """Whether ``root / relative`` resolves (through links) to a place outside ``root``."""
    try:
        (root / relative).resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return True
    return False


def _semantic(data: dict[str, Any], root: Path, out: _Located) -> None:
    python = data["project"].get("python", {})
    req = python.get("requirements_txt", "requirements.txt")
    req_path: KeyPath = ("project", "python", "requirements_txt")
    if not _inside(root, req):
        out.add(
            req_path,
            f"requirements_txt {req!r} points outside the project folder",
            "the image is built from the project folder; keep the file inside it",
        )
    elif _leaves(root, req):
        out.add(
            req_path,
            f"requirements_txt {req!r} is a link to a file outside the project folder",
            "the image is built from the project folder; keep the file inside it",
        )
    elif not (root / req).is_file():
        where = req_path if "requirements_txt" in python else ("project",)
        out.add(
            where,
            f"requirements file {req!r} not found in {root.name or '.'}/",
            "create it (it may be empty) or set project.python.requirements_txt",
            at_key="requirements_txt" not in python,
        )
    names = list(data["entrypoints"])
    dag_ids: dict[str, int] = {}
    for index, job in enumerate(data.get("offline", ())):
        first = dag_ids.setdefault(job["dag_id"], index)
        if first != index:
            out.add(
                ("offline", index, "dag_id"),
                f"dag_id {job['dag_id']!r} is already used by offline[{first}]",
                "dag_ids are unique in the monorepo",
            )
        wanted = job.get("entrypoint")
        key = "entrypoint"
        if wanted is None:
            words = job["command"].split()
            if len(words) >= 2 and words[0] == "run":  # the original tool's "run NAME …"
                wanted, key = words[1], "command"
        if wanted is not None and wanted not in names:
            close = schema.suggest(wanted, names)
            out.add(
                ("offline", index, key),
                f"offline[{index}] uses entrypoint {wanted!r}, which is not defined",
                close or f"defined: {', '.join(names)}",
            )
    replicas = data.get("online", {}).get("replicas", {})
    if replicas.get("min", 1) > replicas.get("max", 3):
        out.add(("online", "replicas"), "online.replicas: min is greater than max")


def _raise(out: _Located) -> None:
    raise ConfigError(sorted(out.found, key=lambda d: (d.line, d.col)))


def _check(
    raw: bytes, path: Path, shown: str, environ: Mapping[str, str], variables: Variables | None
) -> tuple[Any, _Located]:
    """Return (data, locator) for a valid file, or raise ConfigError with every diagnostic.
    ``variables`` (the monorepo's rule) is looked up from the file's place when not given."""
    if variables is None:
        from pipeline.config.variables_load import for_file

        variables = for_file(path, environ)
    doc = yamlsafe.load_text(raw, shown)
    data = doc.data
    out = _Located(shown, doc.node, raw.decode("utf-8", "replace").lstrip("\ufeff"))
    found = interpolate_tree(
        data,
        environ,
        max_depth=yamlsafe.MAX_DEPTH,
        variables=variables,
        from_env=out.from_env,
    )
    for key_path, exc in found:
        out.add_interpolation(key_path, exc)
    if out.found:
        _raise(out)
    if not schema.is_valid(SCHEMA, data):
        for finding in schema.findings(SCHEMA, data):
            out.add(finding.path, finding.message, finding.hint, finding.at_key)
        if not out.found:
            out.add((), "does not match the schema")
        _raise(out)
    _semantic(data, path.parent, out)
    if out.found:
        _raise(out)
    return data, out


def check_file(
    path: Path, shown: str, environ: Mapping[str, str], variables: Variables | None = None
) -> FileReport:
    """Validate one file without raising: the report carries the diagnostics."""
    try:
        data, out = _check(yamlsafe.read_file(path, shown), path, shown, environ, variables)
    except ConfigError as exc:
        return FileReport(shown, tuple(exc.diagnostics))
    jobs = data.get("offline", ())
    gpus: list[tuple[KeyPath, str]] = [
        (("offline", i, "gpu", "type"), j["gpu"]["type"]) for i, j in enumerate(jobs) if "gpu" in j
    ]
    if "gpu" in data.get("online", {}):
        gpus.append((("online", "gpu", "type"), data["online"]["gpu"]["type"]))
    return FileReport(
        shown,
        (),
        data["project"]["name"],
        tuple(j["dag_id"] for j in jobs),
        tuple(gpus),
        out.from_env.entries(),
    )


def load_project(
    path: Path,
    environ: Mapping[str, str],
    shown: str | None = None,
    variables: Variables | None = None,
) -> model.ProjectConfig:
    """Load a valid project or raise :class:`ConfigError` with every problem found.
    ``${VAR}`` reads only what ``variables`` (default: the rule of the monorepo around
    ``path``) allows."""
    from pipeline.config import model  # not needed by validate: keep its start-up short

    shown = shown or str(path)
    data, out = _check(yamlsafe.read_file(path, shown), path, shown, environ, variables)
    return model.build(data, path, out.from_env.entries())


def locate_key(path: Path, shown: str, key_path: KeyPath) -> tuple[int, int]:
    """Where ``key_path`` is in a file that loaded before (for cross-file findings)."""
    doc = yamlsafe.load_text(yamlsafe.read_file(path, shown), shown)
    return schema.locate(doc.node, key_path, at_key=False)
