"""Dependencies of a project, read from its requirements file with ``packaging`` (not pip).

Only files inside the project folder are read: the image is built from that folder, and a
requirements file (or one it includes) that leads elsewhere, by a link, ``..`` or an absolute
path, is refused before it is opened, so that no line of it is ever printed.
"""

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


_INCLUDES = ("--requirement", "-r")
_CONSTRAINTS = ("--constraint", "-c")


def _target(line: str, options: tuple[str, str]) -> str | None:
    """The file named by an include line (``-r FILE``, ``-rFILE``, ``--requirement=FILE``)."""
    for option in options:
        if line.startswith(option + "="):
            return line[len(option) + 1 :].strip()
        if line.startswith(option) and (
            len(option) == 2 or line[len(option) : len(option) + 1] in " \t"
        ):
            return line[len(option) :].strip()
    return None


def _outside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return True
    return False


def _refuse(shown: str, number: int, message: str) -> ConfigError:
    return ConfigError(
        [
            Diagnostic(
                shown,
                number,
                1 if number else 0,
                message,
                "the image is built from the project folder; keep requirement files inside it",
            )
        ]
    )


def read(
    path: Path, shown: str | None = None, _depth: int = 0, *, root: Path | None = None
) -> list[Dependency]:
    """Every requirement of ``path``, following ``-r`` includes; options lines are skipped.
    Files outside ``root`` (default: the folder of ``path``) are refused, not read."""
    shown = shown or str(path)
    root = root if root is not None else path.parent
    if _depth == 0 and _outside(root, path):
        what = "links to a file" if path.is_symlink() else "is"
        raise _refuse(shown, 0, f"the requirements file {what} outside the project folder")
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
        target = _target(line, _INCLUDES)
        constraint = _target(line, _CONSTRAINTS)
        for named, kind in ((target, "included"), (constraint, "constraints")):
            if named is not None and (
                named.startswith("~")
                or Path(named).is_absolute()
                or _outside(root, path.parent / named)
            ):
                raise _refuse(
                    shown, number, f"the {kind} file {named!r} is outside the project folder"
                )
        if target is not None:
            included = path.parent / target
            found += read(included, str(Path(shown).parent / target), _depth + 1, root=root)
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
