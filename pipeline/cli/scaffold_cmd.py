"""``somlier new-project``, ``somlier init``, ``somlier new-monorepo`` and
``somlier notebook-profiles``: thin shells over :mod:`pipeline.scaffold`."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from pipeline.cli.options import json_option, output_option, repo_option_with
from pipeline.cli.wiring.display import progress_for
from pipeline.errors import UserError

DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Show what would be written or run; change nothing."
)


def _echo_json(body: object) -> None:
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))


@click.command("new-project")
@click.option(
    "--project-name",
    "--project_name",
    "--name",
    "project_name",
    help="Project name (a DNS label: my-example-project).",
)
@click.option("--description", help="What the project does, in one line.")
@click.option("--team", help="The team that owns it.")
@click.option("--author", help="Who writes it.")
@click.option("--email", help="The author's e-mail.")
@click.option("--no-input", is_flag=True, help="Ask nothing: flags or defaults for every answer.")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Folder in which the project folder is created.",
)
@DRY_RUN
@json_option
def new_project(
    project_name: str | None,
    description: str | None,
    team: str | None,
    author: str | None,
    email: str | None,
    no_input: bool,
    output_dir: Path,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Create a project folder from the template, asking what the original tool asked.

    Refuses an existing folder and an invalid name (exit 2). The new somlier.yaml is validated
    before the folder appears.
    """
    from pipeline.scaffold import new_project as scaffold

    given = {
        "project_name": project_name,
        "description": description,
        "team": team,
        "author": author,
        "email": email,
    }
    answers = {}
    for key, explanation, default in scaffold.QUESTIONS:
        value = given[key]
        if value is None and no_input:
            value = default
        if value is not None and key == "project_name":
            taken = scaffold.folder_taken(output_dir, value.strip())
            if taken is not None:  # before asking anything else
                raise UserError(taken, hint="choose another project name, or remove the folder")
        while value is None:  # ask until the answer is valid, as the original tool did
            value = click.prompt(f"{key} ({explanation})", default=default, err=as_json).strip()
            problem = scaffold.problem(key, value)
            if problem is None and key == "project_name":
                problem = scaffold.folder_taken(output_dir, value)
            if problem is not None:
                click.echo(f"error: {problem}", err=True)
                value = None
        answers[key] = value.strip()
    result = scaffold.Answers(**answers)
    dest, files = scaffold.create(result, output_dir, os.environ, dry_run=dry_run)
    if as_json:
        _echo_json(scaffold.summary(result, dest, files, dry_run))
        return
    verb = "Would create" if dry_run else "Created"
    click.echo(f"{verb} project {result.project_name} in {dest} ({len(files)} files)")
    if dry_run:
        for f in sorted(files, key=lambda f: f.path):
            click.echo(f"  {f.path.as_posix()}")
        return
    click.echo(f"Next:\n  cd {dest}\n  make init      # or: somlier init")


@click.command("init")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The project folder [default: the one around the current folder].",
)
@click.option(
    "--system-site-packages",
    is_flag=True,
    help="Let the environment see the interpreter's packages (as the notebook servers need).",
)
@click.option(
    "--venv",
    "venv_name",
    default=".venv",
    show_default=True,
    help="Folder of the environment, in the project.",
)
@click.option(
    "--python",
    "python",
    help="Interpreter that creates the environment [default: the one running somlier].",
)
@click.option("--no-requirements", is_flag=True, help="Do not install requirements.txt.")
@click.option("--no-hooks", is_flag=True, help="Do not install the pre-commit hook.")
@DRY_RUN
@json_option
def init(
    project_dir: Path | None,
    system_site_packages: bool,
    venv_name: str,
    python: str | None,
    no_requirements: bool,
    no_hooks: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Set up a project: a virtual environment, its requirements, the pre-commit hook."""
    from pipeline.config.project import load_project
    from pipeline.monorepo.discovery import repo_root
    from pipeline.runner import project_file
    from pipeline.scaffold import init as scaffold

    start = (project_dir or Path.cwd()).resolve()
    config = load_project(project_file(start, None), os.environ)
    root = config.root
    plan = scaffold.plan(
        root,
        python=python or sys.executable,
        venv=root / venv_name,
        system_site_packages=system_site_packages,
        requirements=None if no_requirements else config.requirements_path,
        git_root=None if no_hooks else repo_root(root),
        pre_commit=shutil.which("pre-commit"),
        hooks=not no_hooks,
    )
    log = (lambda _line: None) if as_json else click.echo
    for note in plan.notes:
        log(note)
    if dry_run:
        for step in plan.steps:
            log(f"would run ({step.cwd}): {' '.join(step.argv)}")
    else:
        scaffold.run(plan, log, progress_for(as_json))
    if as_json:
        _echo_json(
            {
                "project": str(root),
                "venv": str(plan.venv),
                "steps": [
                    {"title": s.title, "argv": list(s.argv), "cwd": str(s.cwd)} for s in plan.steps
                ],
                "notes": list(plan.notes),
                "dry_run": dry_run,
            }
        )
    elif not dry_run:
        click.echo(f"Ready: source {plan.venv.relative_to(root)}/bin/activate")


@click.command("new-monorepo")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--projects-repo", help="owner/name of the repository on GitHub (for .somlier/platform.yaml)."
)
@click.option(
    "--git/--no-git", "git_init", default=True, show_default=True, help="Run git init in DIRECTORY."
)
@DRY_RUN
@json_option
def new_monorepo(
    directory: Path, projects_repo: str | None, git_init: bool, dry_run: bool, as_json: bool
) -> None:
    """Create the ML projects monorepo in DIRECTORY (new or empty).

    Lays down the Makefile (make install, new-project, init, build file=…, validate),
    .somlier/platform.yaml, .pre-commit-config.yaml, a README and the example workflows
    for ml-projects in .github/workflows/.
    """
    from pipeline import proc
    from pipeline.scaffold import new_monorepo as scaffold

    files = scaffold.create(directory, os.environ, projects_repo=projects_repo, dry_run=dry_run)
    if git_init and not dry_run:
        proc.run("git", "init", "--quiet", "--initial-branch=main", cwd=directory)
    if as_json:
        _echo_json(scaffold.summary(directory, files, dry_run, git_init))
        return
    verb = "Would create" if dry_run else "Created"
    click.echo(f"{verb} the monorepo {directory} ({len(files)} files)")
    for f in sorted(files, key=lambda f: f.path):
        click.echo(f"  {f.path.as_posix()}")
    if not dry_run:
        click.echo(f"Next:\n  cd {directory}\n  make install\n  make new-project")


@click.command("notebook-profiles")
@repo_option_with(
    "Read .somlier/platform.yaml of the monorepo around DIR [default: the current folder]."
)
@output_option("Write the values to FILE [default: print them].")
@click.option("--force", is_flag=True, help="Overwrite FILE.")
@click.option(
    "--no-pod-check",
    is_flag=True,
    help="Skip the Kubernetes validation of the pods the profiles make (needs somlier[k8s]).",
)
@json_option
def notebook_profiles(
    repo: Path | None, output: Path | None, force: bool, no_pod_check: bool, as_json: bool
) -> None:
    """Render the notebook-server profiles of the platform's JupyterHub (Zero to JupyterHub values).

    From notebook_profiles and gpu_types of .somlier/platform.yaml: sizes (CPU 4 cores / 16 GiB,
    8 cores / 32 GiB), GPU type and count, disk size, idle culling, the shared volumes. The values
    are validated, and so is every pod they describe (kubernetes-validate, strict).
    """
    from pipeline.cli.wiring import settings_at
    from pipeline.errors import UserError
    from pipeline.scaffold import profiles

    settings, _ = settings_at(repo or Path.cwd())
    text = profiles.render(settings)
    values = profiles.check(text)
    pods = None if no_pod_check else profiles.check_pods(values, settings.kubernetes.version)
    if output is not None:
        if output.exists() and not force:
            raise UserError(f"{output} already exists", hint="pass --force to overwrite it")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    if as_json:
        _echo_json(profiles.summary(values, pods, str(output) if output else None))
    elif output is None:
        click.echo(text, nl=False)
    else:
        checked = f", {pods} pod manifests validated" if pods is not None else ""
        click.echo(f"Wrote {output}: {len(values['singleuser']['profileList'])} profiles{checked}")
