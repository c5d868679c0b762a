"""The CLI through its real entry point: output, exit codes, signals, stdin, start-up imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import GitRepo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ml-projects"
SOMLIER = Path(sys.executable).parent / "somlier"
HEAVY = ("mlflow", "docker", "github", "slack_sdk", "google", "kubernetes", "bentoml", "jsonschema")


def somlier(
    *args: str, cwd: Path = ROOT, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SOMLIER), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def make_project(folder: Path, name: str, entrypoints: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text("")
    body = (
        textwrap.dedent(f"""\
        project: {{name: {name}}}
        model: {{name: {name}, version: v1.0.0}}
        entrypoints:
        """)
        + textwrap.indent(textwrap.dedent(entrypoints), "  ")
        + extra
    )
    (folder / "somlier.yaml").write_text(body)
    return folder / "somlier.yaml"


def test_validate_examples_ok_and_json_is_stable() -> None:
    done = somlier("validate", "--json", str(EXAMPLES))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["checked"] == 4 and report["errors"] == 0
    assert {f["project"] for f in report["files"]} == {
        None,  # .somlier/platform.yaml
        "churn-model",
        "demand-forecast",
        "fraud-detector",
    }
    assert report["files"][0]["path"].endswith(".somlier/platform.yaml")
    assert set(report["files"][0]) == {"path", "ok", "project", "errors"}


def test_validate_bad_file_exit_2_no_traceback(tmp_path: Path) -> None:
    path = make_project(tmp_path / "p", "p", "main: {command: python}\n", "onlin: {}\n")
    done = somlier("validate", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    line = done.stdout.strip().splitlines()[0]
    assert line.startswith("p/somlier.yaml:5:1: error: unknown key 'onlin'")
    assert "did you mean 'online'?" in line
    assert done.stderr.strip() == "1 file checked: 1 error in 1 file"


def test_validate_github_annotations(tmp_path: Path) -> None:
    path = make_project(tmp_path / "p", "Bad_Name", "main: {command: python}\n")
    done = somlier("validate", "--format", "github", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout.startswith(
        "::error file=p/somlier.yaml,line=1,col=17,title=somlier validate::"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "/no/such/path"],
        ["validate", "--jobs", "0"],
        ["config", "run"],
        ["nonsense"],
        ["pipeline", "build", "--base", "main", "--no-dags"],
        ["pipeline", "changed"],
        ["pipeline", "changed", "--base", "main", "--bogus"],
    ],
)
def test_wrong_arguments_exit_2(args: list[str]) -> None:
    done = somlier(*args)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr


def test_default_validate_uses_git_ls_files(tmp_path: Path) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    make_project(tmp_path / "a", "a", "main: {command: python}\n")
    make_project(tmp_path / "nested" / "b", "b", "main: {command: python}\n")
    ignored = make_project(tmp_path / "build" / "c", "c", "main: {command: python}\n")
    ignored.write_text("not: [valid\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    subprocess.run(
        ["git", "add", "a", ".gitignore"], cwd=tmp_path, check=True, env={**os.environ, **env}
    )
    done = somlier("validate", "--json", cwd=tmp_path / "nested")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(f["project"] for f in json.loads(done.stdout)["files"]) == ["a", "b"]


def test_help_and_validate_do_not_import_heavy_modules() -> None:
    code = textwrap.dedent(f"""
        import sys
        from pipeline.cli.main import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        code = main(["validate", {str(EXAMPLES)!r}])
        print(code, sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_pipeline_changed_starts_without_click_or_the_settings_once_they_are_known(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    """The console script runs ``pipeline changed`` without click; from the second run on, the
    platform settings come from the cache: no YAML loader, no schema, no settings classes."""
    git_repo.commit(
        "base",
        {
            ".somlier/platform.yaml": "monorepo: {global_paths: [.somlier/platform.yaml]}\n",
            "projects/a/somlier.yaml": "project:\n  name: a\n",
            "projects/a/main.py": "print(1)\n",
        },
    )
    git_repo.git("switch", "-q", "-c", "feature")
    git_repo.commit("change", {"projects/a/main.py": "print(2)\n"})
    code = textwrap.dedent(f"""
        import sys
        from pipeline.cli.entry import main
        args = ["pipeline", "changed", "--base", "main", "--matrix"]
        code = main([*args, "-C", {str(git_repo.path)!r}])
        loaded = {{"click", "yaml", "pipeline.config.settings", "pipeline.config.schema"}}
        print(code, sorted(m for m in sys.modules if m in loaded))
    """)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        ).stdout.splitlines()
        for _ in range(2)
    ]
    matrix = '{"include":[{"project":"a","path":"projects/a"}]}'
    assert runs[0][0] == runs[1][0] == matrix
    assert runs[0][1].startswith("0 [") and "click" not in runs[0][1]
    assert runs[1][1] == "0 []"
    # --help and usage errors are click's, through the same console script.
    done = somlier("pipeline", "changed", "--help")
    assert done.returncode == 0 and "--base REF" in done.stdout
    done = somlier("pipeline", "changed", "--json", "--matrix", "--base", "main")
    assert done.returncode == 2 and "--json and --matrix are two forms" in done.stderr


def test_config_run_json_lines_and_exit_code(tmp_path: Path) -> None:
    script = tmp_path / "p" / "job.py"
    make_project(tmp_path / "p", "p", f"main: {{command: {sys.executable}, args: [job.py]}}\n")
    script.write_text(
        "import sys\nprint('hello world!!')\nprint('oops', file=sys.stderr)\nsys.exit(7)\n"
    )
    done = somlier("config", "run", "main", cwd=tmp_path / "p")
    assert done.returncode == 7
    record = json.loads(done.stdout.strip())
    assert record["name"] == "main" and record["stdout"] == "hello world!!\n"
    assert set(record) == {"name", "stdout", "timestamp"}
    assert "Executing" in done.stderr
    err = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert err == [{"name": "main", "stderr": "oops\n", "timestamp": err[0]["timestamp"]}]


def test_config_run_passes_args_and_stdin_text_format(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    make_project(
        folder,
        "p",
        f"echo: {{command: [{sys.executable}, echo.py]}}\n",
        "global: {logging: {format: text}}\n",
    )
    (folder / "echo.py").write_text("import sys\nprint(sys.argv[1:], sys.stdin.read().upper())\n")
    done = somlier(
        "config",
        "run",
        "-f",
        str(folder / "somlier.yaml"),
        "echo",
        "--",
        "--x",
        "y",
        stdin="from stdin",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[echo] ['--x', 'y'] FROM STDIN\n"


def test_config_run_unknown_entrypoint_lists_known(tmp_path: Path) -> None:
    make_project(tmp_path / "p", "p", "main: {command: python}\ntrain: {command: python}\n")
    done = somlier("config", "run", "serve", cwd=tmp_path / "p")
    assert done.returncode == 2
    assert "no entrypoint 'serve'" in done.stderr and "main, train" in done.stderr


def test_config_run_missing_program_is_a_user_error(tmp_path: Path) -> None:
    make_project(tmp_path / "p", "p", "main: {command: no-such-program-xyz}\n")
    done = somlier("config", "run", "main", cwd=tmp_path / "p")
    assert done.returncode == 2
    assert "no-such-program-xyz: command not found" in done.stderr


def test_config_run_forwards_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    make_project(folder, "p", f"main: {{command: [{sys.executable}, -u, wait.py]}}\n")
    (folder / "wait.py").write_text(
        textwrap.dedent("""\
        import signal, sys, time
        def bye(signum, frame):
            print("child got", signal.Signals(signum).name)
            sys.exit(42)
        signal.signal(signal.SIGTERM, bye)
        print("ready")
        time.sleep(60)
    """)
    )
    child = subprocess.Popen(
        [str(SOMLIER), "config", "run", "main"],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    first = json.loads(child.stdout.readline())
    assert first["stdout"] == "ready\n"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 42
    assert json.loads(out.strip())["stdout"] == "child got SIGTERM\n"


def test_config_show_json_and_dependencies() -> None:
    project = EXAMPLES / "projects" / "demand-forecast"
    done = somlier("config", "show", "-d", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["project"]["name"] == "demand-forecast"
    assert shown["model"]["version"] == "v1.2.0"
    assert shown["entrypoints"]["train"] == {
        "command": ["python"],
        "args": ["train.py", "--epochs", "3"],
    }
    assert [d["name"] for d in shown["dependencies"]] == ["numpy", "requests"]
    assert shown["dependencies"][1]["extras"] == ["socks"]


def test_config_show_text_like_the_original_tool() -> None:
    done = somlier("config", "show", cwd=EXAMPLES / "projects" / "churn-model")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert "Model Name: churn-model" in lines
    assert "Model Tag: dev" in lines
    assert "Docker Image Name: churn-model:latest" in lines
    assert "Model Assets: -" in lines
    assert "Entrypoints: main, train, test" in lines


def test_wheel_installs_and_runs_from_any_folder(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("somlier-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for data in (
        "pipeline/_data/schemas/somlier.schema.json",
        "pipeline/_data/schemas/platform.schema.json",
        "pipeline/py.typed",
    ):
        assert data in names
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import pipeline, sys; from pipeline import resources; "
        "print(pipeline.__file__); print(resources.data_dir('schemas'))"
    )
    where = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert where[0].startswith(str(target)) and where[1].startswith(str(target))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "validate", str(EXAMPLES)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_many_files_in_parallel_match_serial(tmp_path: Path) -> None:
    for i in range(80):
        make_project(
            tmp_path / f"p{i}",
            f"p{i}",
            "main: {command: python}\n",
            "onlin: {}\n" if i % 10 == 0 else "",
        )
    parallel = somlier("validate", "--json", "-j", "2", str(tmp_path), cwd=tmp_path)
    serial = somlier("validate", "--json", "-j", "1", str(tmp_path), cwd=tmp_path)
    assert parallel.returncode == serial.returncode == 2
    assert json.loads(parallel.stdout) == json.loads(serial.stdout)
    assert json.loads(parallel.stdout)["errors"] == 8
