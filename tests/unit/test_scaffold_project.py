"""`somlier new-project`, `somlier new-monorepo` and the `somlier init` plan, in-process.

The generated files are read back the way their consumers read them: somlier.yaml through the
project loader, Python through `ast`, the Dockerfile instruction by instruction, the platform
settings through `load_settings`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import click.testing
import pytest
import yaml

from pipeline import resources
from pipeline.cli.main import main
from pipeline.config.project import load_project
from pipeline.config.settings_load import load_settings
from pipeline.scaffold import init as init_plan
from pipeline.scaffold import new_monorepo, new_project

ANSWERS = [
    "--project-name", "nuj-project",
    "--description", "nuj' ml project \"for\" ${HOME} 예제",
    "--team", "data platform team",
    "--author", "nuj",
    "--email", "nuj@socar.kr",
]  # fmt: skip


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, err = run(["new-project", "--no-input", "-o", str(tmp_path), *ANSWERS], capsys)
    assert code == 0, err
    assert "Created project nuj-project" in out
    return tmp_path / "nuj-project"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: comments dropped, continuations joined."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#"))
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_project_has_the_template_files_and_a_valid_somlier_yaml(project: Path) -> None:
    names = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert {
        "Dockerfile", "MLproject", "Makefile", "README.md", "entrypoint.sh", "main.py",
        "service.py", "somlier.yaml", "requirements.txt", "test.py", "train.py",
        "notebooks/example/example.ipynb", ".gitignore", ".dockerignore", "__init__.py",
    } <= names  # fmt: skip
    assert not any(n.endswith(".j2") for n in names)
    config = load_project(project / "somlier.yaml", {})
    assert config.project.name == config.model.name == "nuj-project"
    assert config.project.docker.name == "nuj-project"
    assert config.model.version == "v0.0.1"
    # The answers come back exactly, although they hold quotes, ${...} and Hangul.
    assert dict(config.model.config) == {
        "description": 'nuj\' ml project "for" ${HOME} 예제',
        "team": "data platform team",
        "author": "nuj",
        "email": "nuj@socar.kr",
    }
    assert {n: list(e.argv) for n, e in config.entrypoints.items()} == {
        "main": ["bash", "entrypoint.sh"],
        "train": ["python", "train.py"],
        "test": ["python", "-m", "test"],
        "serve": ["bentoml", "serve", "service:Model"],
    }
    assert (project / "entrypoint.sh").stat().st_mode & 0o111


def test_python_files_parse_and_carry_the_project_name(project: Path) -> None:
    for path in project.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    constants = {}
    for name in ("train.py", "main.py", "service.py"):
        tree = ast.parse((project / name).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                constants[node.targets[0].id] = ast.literal_eval(node.value)
    assert constants["EXPERIMENT"] == "nuj-project"
    assert constants["PROJECT"] == "nuj-project"
    assert constants["DEFAULT_MODEL_URI"] == "models:/nuj-project/latest"
    service = ast.parse((project / "service.py").read_text(encoding="utf-8"))
    classes = [n for n in service.body if isinstance(n, ast.ClassDef)]
    assert ast.unparse(classes[0].decorator_list[0]).startswith("bentoml.service")


def test_mlproject_runs_train_py(project: Path) -> None:
    mlproject = yaml.safe_load((project / "MLproject").read_text(encoding="utf-8"))
    assert mlproject["name"] == "nuj-project"
    assert mlproject["entry_points"]["main"]["command"].split()[:2] == ["python", "train.py"]


def test_dockerfile_installs_requirements_before_the_code_and_runs_as_a_user(project: Path) -> None:
    steps = dockerfile_instructions((project / "Dockerfile").read_text(encoding="utf-8"))
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    assert steps[1] == ("FROM", "${BASE_IMAGE}")
    kinds = [k for k, _ in steps]
    copies = [i for i, (k, _) in enumerate(steps) if k == "COPY"]
    install = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and "pip install -r" in a)
    # requirements alone first (with the wheel folder the pipeline adds), so a code change
    # reuses the installed layer
    assert steps[copies[0]][1] == (
        "${PROJECT_DIR}/requirements.txt .somlier-buil[d] /opt/somlier-build/"
    )
    assert copies[0] < install < copies[1]
    run_args = steps[install][1]
    assert run_args.startswith(
        "--mount=type=cache,target=/root/.cache/pip,sharing=locked "
        "--mount=type=secret,id=pip-index-url "
    )
    assert run_args.endswith(
        'pip install -r /opt/somlier-build/requirements.txt "${SOMLIER_REQUIREMENT}"'
    )
    assert steps[copies[1]][1].startswith("--chown=app:app ${PROJECT_DIR}/")
    user = kinds.index("USER")
    assert steps[user][1] == "app" and user > install
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["somlier", "config", "run"]
    assert json.loads(dict(steps)["CMD"]) == ["main"]


def test_an_existing_folder_is_refused_and_left_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "somlier.yaml").read_bytes()
    (project / "mine.txt").write_text("keep me")
    code, _, err = run(["new-project", "--no-input", "-o", str(project.parent), *ANSWERS], capsys)
    assert code == 2
    assert "already exists" in err and "Traceback" not in err
    assert (project / "somlier.yaml").read_bytes() == before
    assert (project / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "name", ["Bad_Name", "-lead", "trail-", "9lives", "a" * 64, "with space", "ünï"]
)
def test_invalid_names_are_refused_and_nothing_is_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["new-project", "--no-input", "--name", name, "-o", str(tmp_path)], capsys)
    assert code == 2
    assert "is not valid" in err and "my-example-project" in err
    assert list(tmp_path.iterdir()) == []


def test_questions_are_asked_again_until_the_answer_is_valid(tmp_path: Path) -> None:
    answers = "Bad Name\nchurn\nPredicts churn\nAI 팀\nnuj\nnot-an-email\nnuj@socar.kr\n"
    with click.testing.CliRunner().isolation(input=answers) as (out, err, *_):
        code = main(["new-project", "-o", str(tmp_path)])
        output, errors = out.getvalue().decode(), err.getvalue().decode()
    assert code == 0, errors
    for prompt in ("project_name (프로젝트 이름) [my-example-project]:", "email (이메일)"):
        assert prompt in output
    assert "project_name 'Bad Name' is not valid" in errors
    assert "'not-an-email' is not an e-mail address" in errors
    config = load_project(tmp_path / "churn" / "somlier.yaml", {})
    assert config.model.config["team"] == "AI 팀"


def test_dry_run_writes_nothing_and_json_lists_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["new-project", "--no-input", "--dry-run", "--json", "-o", str(tmp_path), *ANSWERS], capsys
    )
    assert code == 0
    body = json.loads(out)
    assert body["project"] == "nuj-project" and body["dry_run"] is True
    assert "somlier.yaml" in body["files"] and "train.py" in body["files"]
    assert body["answers"]["email"] == "nuj@socar.kr"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_check_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(folder: Path, environ: object) -> None:
        raise RuntimeError("template bug")

    monkeypatch.setattr(new_project, "check_rendered", broken)
    answers = new_project.Answers("ok-name", "d", "t", "a", "a@b.io")
    with pytest.raises(RuntimeError):
        new_project.create(answers, tmp_path, {})
    assert list(tmp_path.iterdir()) == []


# --- new-monorepo ---------------------------------------------------------------------------


def makefile_targets(text: str) -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.M))


def test_new_monorepo_lays_down_the_workflow_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "ml-projects"
    code, out, err = run(
        ["new-monorepo", str(dest), "--no-git", "--json", "--projects-repo", "acme/ml-projects"],
        capsys,
    )
    assert code == 0, err
    body = json.loads(out)
    assert {"Makefile", ".somlier/platform.yaml", ".pre-commit-config.yaml"} <= set(body["files"])
    assert {"install", "new-project", "init", "build", "validate"} <= makefile_targets(
        (dest / "Makefile").read_text()
    )
    settings = load_settings(dest, {})
    assert settings.github.projects_repo == "acme/ml-projects"
    hooks = yaml.safe_load((dest / ".pre-commit-config.yaml").read_text())
    assert hooks["repos"][0]["hooks"][0]["entry"] == "somlier validate"
    shipped = resources.data_dir("actions") / "workflows" / "ml-projects"
    for source in sorted(shipped.glob("*.y*ml")) if shipped.is_dir() else []:
        assert (dest / ".github/workflows" / source.name).read_bytes() == source.read_bytes()
        assert source.name in body["workflows"]
    actions = resources.data_dir("actions")
    for name in body["actions"]:  # vendored: the workflows use them as $/.github/actions/NAME
        vendored = dest / ".github/actions" / name / "action.yml"
        assert vendored.read_bytes() == (actions / name / "action.yml").read_bytes()
    assert "comment-command" in body["actions"] and "deploy" not in body["actions"]
    shared = dest / ".github/actions/lib/run-somlier.sh"
    assert shared.read_bytes() == (actions / "lib" / "run-somlier.sh").read_bytes()


def test_new_monorepo_without_a_repo_name_has_default_settings(tmp_path: Path) -> None:
    new_monorepo.create(tmp_path / "mono", {})
    settings = load_settings(tmp_path / "mono", {})
    assert settings.github.projects_repo is None
    assert settings.monorepo.default_branch == "main"


def test_new_monorepo_refuses_a_folder_with_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text("mine")
    code, _, err = run(["new-monorepo", str(tmp_path), "--no-git"], capsys)
    assert code == 2 and "not empty" in err
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_new_monorepo_rejects_a_bad_repo_name(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="owner/name"):
        new_monorepo.create(tmp_path / "x", {}, projects_repo="no-slash")


# --- init -----------------------------------------------------------------------------------


def test_init_plan_creates_the_venv_installs_and_hooks(tmp_path: Path) -> None:
    plan = init_plan.plan(
        tmp_path / "p",
        python="/usr/bin/python3",
        venv=tmp_path / "p/.venv",
        system_site_packages=True,
        requirements=tmp_path / "p/requirements.txt",
        git_root=tmp_path,
        pre_commit=None,
    )
    argvs = [list(s.argv) for s in plan.steps]
    assert argvs[0] == [
        "/usr/bin/python3",
        "-m",
        "venv",
        "--system-site-packages",
        str(tmp_path / "p/.venv"),
    ]
    assert argvs[1][-2:] == ["-r", str(tmp_path / "p/requirements.txt")]
    assert argvs[2][-1] == "pre-commit"  # none on PATH: installed into the new environment
    assert argvs[3] == [str(tmp_path / "p/.venv/bin/pre-commit"), "install"]
    assert plan.steps[3].cwd == tmp_path


def test_init_plan_reuses_a_venv_and_skips_what_it_cannot_do(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv/pyvenv.cfg").write_text("home = /usr/bin\n")
    plan = init_plan.plan(
        tmp_path,
        python="python3",
        venv=tmp_path / ".venv",
        system_site_packages=False,
        requirements=None,
        git_root=None,
        pre_commit="/usr/bin/pre-commit",
    )
    assert plan.steps == ()
    assert any("reused" in n for n in plan.notes)
    assert any("not inside a git repository" in n for n in plan.notes)


def test_init_dry_run_prints_the_commands(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["init", "-C", str(project), "--dry-run", "--no-hooks", "--json"], capsys)
    assert code == 0
    body = json.loads(out)
    assert [s["title"] for s in body["steps"]] == ["virtual environment", "requirements"]
    assert not (project / ".venv").exists()


def test_init_outside_a_project_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    code, _, err = run(["init", "-C", str(tmp_path)], capsys)
    assert code == 2 and "no somlier.yaml" in err
