"""Dependencies of a project, read from its requirements file with ``packaging`` (not pip)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from pipeline.errors import ConfigError, Diagnostic

_MAX_INCLUDES = 32


@dataclass(frozen=True)
class Dependency:
    name: str
    specifier: str
    extras: tuple[str, ...]
    marker: str
    source: str  # file:line
    text: str  # the requirement as written (an editable or URL install keeps its form)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with comments dropped and backslash continuations joined, with their first line."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0]
        if line.lstrip().startswith("#"):
            line = ""
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            out.append((start, joined))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def read(path: Path, shown: str | None = None, _depth: int = 0) -> list[Dependency]:
    """Every requirement of ``path``, following ``-r`` includes; options lines are skipped."""
    shown = shown or str(path)
    if _depth > _MAX_INCLUDES:
        raise ConfigError(
            [Diagnostic(shown, 0, 0, "requirement files include each other too deeply")]
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Diagnostic(shown, 0, 0, "requirements file not found")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Diagnostic(shown, 0, 0, "not valid UTF-8")]) from None
    found: list[Dependency] = []
    for number, line in _logical_lines(text):
        where = f"{shown}:{number}"
        if line.startswith(("-r ", "--requirement ", "-r", "--requirement=")):
            target = (
                line.split("=", 1)[1]
                if line.startswith("--requirement=")
                else (line.split(None, 1)[1] if " " in line else line[2:])
            )
            included = path.parent / target.strip()
            found += read(included, str(Path(shown).parent / target.strip()), _depth + 1)
            continue
        if line.startswith(("-e ", "--editable ")):
            target = line.split(None, 1)[1]
            found.append(Dependency(target, "", (), "", where, line))
            continue
        if line.startswith("-"):
            continue  # --index-url, -c constraints, --hash ...: not dependencies
        requirement_text = line.split(" --hash", 1)[0].strip()
        try:
            req = Requirement(requirement_text)
        except InvalidRequirement as exc:
            raise ConfigError(
                [Diagnostic(shown, number, 1, f"invalid requirement {line!r}: {exc}")]
            ) from None
        found.append(
            Dependency(
                name=req.name,
                specifier=str(req.specifier) or (f"@ {req.url}" if req.url else ""),
                extras=tuple(sorted(req.extras)),
                marker=str(req.marker) if req.marker else "",
                source=where,
                text=requirement_text,
            )
        )
    return found
