"""``somlier new-monorepo DIR``: the ML projects repository, ready for its first project.

It lays down the Makefile of the original workflow (``make install``, ``make new-project``,
``make init``, ``make build file=…``), ``.somlier/platform.yaml``, the pre-commit config, a
README, the workflows somlier ships for ml-projects as ``.github/workflows/``, the composite
actions they use as ``.github/actions/`` (with the script they share, ``lib/``), and the schema
copies and editor settings of :mod:`pipeline.scaffold.editor`. The workflows reference the
actions as ``$/.github/actions/NAME``: this repository at the workflow's own commit, so no tag
that can be moved and no code from outside the repository runs with its secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import yaml

from pipeline import resources
from pipeline.errors import UserError
from pipeline.forge.repo_names import is_repo
from pipeline.images import wheel
from pipeline.render import Quoted
from pipeline.scaffold import editor, template_folder

TEMPLATE = Path(__file__).resolve().parent / "monorepo_template"
WORKFLOWS = PurePosixPath(".github/workflows")
ACTIONS = PurePosixPath(".github/actions")
_OWN = "$/.github/actions/"
_SHARED = "lib"  # the script the actions share (run-somlier.sh)


def workflow_sources() -> list[Path]:
    """The example workflows for ml-projects that somlier ships (``actions/workflows/``)."""
    try:
        folder = resources.data_dir("actions") / "workflows" / "ml-projects"
    except FileNotFoundError:
        return []
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in {".yml", ".yaml"} and p.is_file())


_MAKE_SAFE = re.compile(r"[A-Za-z0-9._/+=:@-]+")


def action_files(workflows: list[Path]) -> list[template_folder.File]:
    """somlier's composite actions that ``workflows`` use (``uses: $/.github/actions/NAME``), and
    the folder they share, as files under ``.github/actions/``."""
    names = set()
    for path in workflows:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job in (document.get("jobs") or {}).values():
            for step in job.get("steps") or []:
                uses = str(step.get("uses", ""))
                if uses.startswith(_OWN):
                    names.add(uses.removeprefix(_OWN))
    if not names:
        return []
    root = resources.data_dir("actions")
    files = []
    for name in [*sorted(names), _SHARED]:
        for source in sorted((root / name).rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                files.append(
                    template_folder.File(
                        ACTIONS / name / source.relative_to(root / name).as_posix(),
                        source.read_bytes(),
                        executable=os.access(source, os.X_OK),
                    )
                )
    return files


def somlier_requirement(origin: wheel.Origin) -> str:
    """What the Makefile's ``make install`` installs: ``origin`` as pip reaches it (a source
    folder, a wheel, or ``somlier==VERSION``); a path make would misread gives the version."""
    found = origin.requirement()
    return found if _MAKE_SAFE.fullmatch(found) else f"{wheel.DISTRIBUTION}=={origin.version}"


def render(name: str, projects_repo: str | None) -> list[template_folder.File]:
    if projects_repo and not is_repo(projects_repo):
        raise UserError(f"--projects-repo {projects_repo!r} is not owner/name")
    context = {
        "name": name,
        "projects_repo": projects_repo or "",
        "somlier_requirement": Quoted(somlier_requirement(wheel.running())),
    }
    files = template_folder.render_folder(TEMPLATE, context)
    workflows = workflow_sources()
    files += [template_folder.File(WORKFLOWS / p.name, p.read_bytes()) for p in workflows]
    files += action_files(workflows)
    files += editor.files()  # schema copies and editor mappings: completion works offline
    return files


def check_rendered(folder: Path, environ: Mapping[str, str]) -> None:
    """Load the platform settings as every command will, and parse every YAML file."""
    from pipeline.config.settings_load import load_settings

    load_settings(folder, environ)
    actions = (folder / ACTIONS).glob("*/action.yml")
    for path in [
        folder / ".pre-commit-config.yaml",
        *(folder / WORKFLOWS).glob("*.y*ml"),
        *actions,
    ]:
        yaml.safe_load(path.read_text(encoding="utf-8"))


def create(
    dest: Path,
    environ: Mapping[str, str],
    *,
    projects_repo: str | None = None,
    dry_run: bool = False,
) -> list[template_folder.File]:
    """Write the monorepo into ``dest`` (new, or an empty folder)."""
    if dest.is_file() or (dest.is_dir() and any(dest.iterdir())):
        raise UserError(f"{dest} exists and is not empty", hint="choose a new or empty folder")
    files = render(dest.resolve().name, projects_repo)
    if not dry_run:
        was_empty = dest.is_dir()
        if was_empty:
            dest.rmdir()  # staged next to it and renamed into place like a new folder
        try:
            template_folder.write_new(dest, files, lambda staged: check_rendered(staged, environ))
        except BaseException:
            if was_empty:
                dest.mkdir(exist_ok=True)
            raise
    return files


def summary(
    dest: Path, files: list[template_folder.File], dry_run: bool, git: bool
) -> dict[str, object]:
    return {
        "path": os.fspath(dest),
        "files": sorted(f.path.as_posix() for f in files),
        "workflows": sorted(f.path.name for f in files if f.path.parent == WORKFLOWS),
        "actions": sorted(f.path.parent.name for f in files if f.path.name == "action.yml"),
        "git_init": git,
        "dry_run": dry_run,
    }
