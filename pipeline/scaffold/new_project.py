"""``somlier new-project``: the questions of the original tool, and the project template rendered
into a new folder, checked before it appears."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from pipeline import resources
from pipeline.errors import ConfigError, UserError
from pipeline.scaffold import editor, template_folder

# The questions, in the original tool's order, with its (Korean) explanations.
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("project_name", "프로젝트 이름", "my-example-project"),
    ("description", "프로젝트에 대해 간략하게 설명해주세요", "An ML project"),
    ("team", "소속 팀을 적어주세요. (ex. AI 팀)", "data team"),
    ("author", "작성자", "somlier user"),
    ("email", "이메일", "user@example.com"),
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_MAX_TEXT = 200


@dataclass(frozen=True)
class Answers:
    project_name: str
    description: str
    team: str
    author: str
    email: str


def name_pattern() -> re.Pattern[str]:
    """A project name is a DNS-1123 label (it names images and Kubernetes objects)."""
    pattern: str = resources.schema("somlier")["$defs"]["dnsLabel"]["pattern"]
    return re.compile(pattern)


def problem(key: str, value: str) -> str | None:
    """What is wrong with one answer, or None."""
    if key == "project_name":
        if name_pattern().match(value):
            return None
        return (
            f"project_name {value!r} is not valid: use lowercase letters, digits and '-', start "
            "with a letter, end with a letter or digit, at most 63 characters "
            "(e.g. my-example-project)"
        )
    if not value.strip():
        return f"{key} is empty"
    if len(value) > _MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"{key} must be one line of at most {_MAX_TEXT} characters"
    if key == "email" and not _EMAIL.match(value.strip()):
        return f"email {value!r} is not an e-mail address"
    return None


def folder_taken(parent: Path, project_name: str) -> str | None:
    """Why ``parent / project_name`` cannot become the project, or None: asked as soon as the
    name is known, so nobody answers four more questions for a folder that exists."""
    dest = parent / project_name
    if dest.exists() or dest.is_symlink():
        return f"{dest} already exists"
    return None


def problems(answers: Answers) -> list[str]:
    """What is wrong with the answers, one message per answer; empty when all are fine."""
    found = (problem(key, getattr(answers, key)) for key, _, _ in QUESTIONS)
    return [p for p in found if p is not None]


def render(answers: Answers, schema: str | None = None) -> list[template_folder.File]:
    """The files of the new project (paths relative to its folder)."""
    context = {
        "name": answers.project_name,
        "description": answers.description.strip(),
        "team": answers.team.strip(),
        "author": answers.author.strip(),
        "email": answers.email.strip(),
        "schema": schema or "",  # the modeline's path to the monorepo's schema copy
    }
    return template_folder.render_folder(resources.data_dir("project_template"), context)


def check_rendered(folder: Path, environ: Mapping[str, str]) -> None:
    """Parse every rendered file again: Python with ``ast``, YAML with PyYAML, and somlier.yaml
    through the same validation as ``somlier validate``. A failure here is a template bug."""
    from pipeline.config.project import check_file

    for path in sorted(folder.rglob("*.py")):
        ast.parse(path.read_bytes(), filename=str(path))
    yaml.safe_load((folder / "MLproject").read_text(encoding="utf-8"))
    report = check_file(folder / "somlier.yaml", str(folder / "somlier.yaml"), environ)
    if not report.ok:
        raise ConfigError(list(report.diagnostics))


def create(
    answers: Answers, parent: Path, environ: Mapping[str, str], *, dry_run: bool = False
) -> tuple[Path, list[template_folder.File]]:
    """Render the template into ``parent / project_name``; refuse bad answers and an existing
    folder. With ``dry_run`` nothing is written."""
    found = problems(answers)
    if found:
        raise UserError("; ".join(found), hint="answer again, or pass the flags (see --help)")
    dest = parent / answers.project_name
    taken = folder_taken(parent, answers.project_name)
    if taken is not None:
        raise UserError(taken, hint="choose another project name, or remove the folder")
    files = render(answers, editor.project_schema(dest))
    if not dry_run:
        template_folder.write_new(dest, files, lambda staged: check_rendered(staged, environ))
    return dest, files


def summary(
    answers: Answers, dest: Path, files: list[template_folder.File], dry_run: bool
) -> dict[str, object]:
    """The stable ``--json`` object."""
    return {
        "project": answers.project_name,
        "path": os.fspath(dest),
        "answers": asdict(answers),
        "files": sorted(f.path.as_posix() for f in files),
        "dry_run": dry_run,
    }
