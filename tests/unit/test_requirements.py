"""``config show -d`` reads requirement files inside the project folder only: a link, a ``-r`` or
a ``-c`` that leads outside is refused before the file is opened, so no line of it is printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import requirements
from pipeline.config.variables import Variables
from pipeline.errors import ConfigError
from tests.unit.conftest import WriteTree

OUTSIDE = "top-secret-line==1.0\n"


@pytest.fixture
def project(tmp_path: Path, write_tree: WriteTree) -> Path:
    write_tree(
        tmp_path,
        {
            "secret.txt": OUTSIDE,
            "proj/sub/more.txt": "requests\n",
            "proj/constraints.txt": "numpy<2\n",
        },
    )
    return tmp_path / "proj"


def _refused(path: Path, root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        requirements.read(path, "proj/requirements.txt", root=root)
    text = info.value.render()
    assert "top-secret-line" not in text
    return text


def test_includes_inside_the_project_are_read(project: Path) -> None:
    (project / "requirements.txt").write_text(
        "numpy\n-r sub/more.txt\n-c constraints.txt\n--constraint=./constraints.txt\n"
        "-rsub/../sub/more.txt\n"
    )
    found = requirements.read(project / "requirements.txt", root=project)
    assert [d.name for d in found] == ["numpy", "requests", "requests"]


def test_a_requirements_file_linking_outside_is_refused(project: Path) -> None:
    (project / "requirements.txt").symlink_to(project.parent / "secret.txt")
    text = _refused(project / "requirements.txt", project)
    assert text == (
        "proj/requirements.txt: error: the requirements file links to a file outside the "
        "project folder (the image is built from the project folder; keep requirement files "
        "inside it)"
    )


@pytest.mark.parametrize(
    ("line", "named", "kind"),
    [
        ("-r ../secret.txt", "../secret.txt", "included"),
        ("-r/etc/shadow", "/etc/shadow", "included"),
        ("--requirement=/etc/shadow", "/etc/shadow", "included"),
        ("--requirement ../secret.txt", "../secret.txt", "included"),
        ("-r sub/../../secret.txt", "sub/../../secret.txt", "included"),
        ("-r ~/.netrc", "~/.netrc", "included"),
        ("-c ../secret.txt", "../secret.txt", "constraints"),
        ("-c /etc/shadow", "/etc/shadow", "constraints"),
        ("--constraint=../secret.txt", "../secret.txt", "constraints"),
    ],
)
def test_an_include_outside_the_project_is_refused_at_its_line(
    project: Path, line: str, named: str, kind: str
) -> None:
    (project / "requirements.txt").write_text(f"numpy\n{line}\n")
    text = _refused(project / "requirements.txt", project)
    assert text.startswith(
        f"proj/requirements.txt:2:1: error: the {kind} file {named!r} is outside the project folder"
    )


def test_an_include_through_a_link_inside_the_project_is_refused(project: Path) -> None:
    (project / "sub" / "link.txt").symlink_to(project.parent / "secret.txt")
    (project / "requirements.txt").write_text("-r sub/link.txt\n")
    assert "'sub/link.txt' is outside the project folder" in _refused(
        project / "requirements.txt", project
    )


def test_a_nested_include_cannot_climb_out_either(project: Path) -> None:
    (project / "sub" / "more.txt").write_text("-r ../../secret.txt\n")
    (project / "requirements.txt").write_text("-r sub/more.txt\n")
    with pytest.raises(ConfigError) as info:
        requirements.read(project / "requirements.txt", "proj/requirements.txt", root=project)
    assert info.value.render().startswith(
        "proj/sub/more.txt:1:1: error: the included file '../../secret.txt' is outside"
    )


def test_validate_refuses_a_requirements_txt_linking_outside(project: Path) -> None:
    from pipeline.config.project import check_file

    (project / "requirements.txt").symlink_to(project.parent / "secret.txt")
    (project / "somlier.yaml").write_text(
        "project: {name: p}\nmodel: {name: p, version: v1}\nentrypoints: {main: {command: x}}\n"
    )
    report = check_file(project / "somlier.yaml", "proj/somlier.yaml", {}, Variables())
    assert [d.format() for d in report.diagnostics] == [
        "proj/somlier.yaml:1:1: error: requirements_txt 'requirements.txt' is a link to a file "
        "outside the project folder (the image is built from the project folder; keep the file "
        "inside it)"
    ]
