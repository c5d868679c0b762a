"""Where a command's code is: `somlier GROUP COMMAND` in pipeline/cli/GROUP_COMMAND_cmd.py (or
the group's own GROUP_cmd.py), a top-level command in COMMAND_cmd.py (the scaffolding commands
together in scaffold_cmd.py); and no two modules of the package share a name
(docs/architecture.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

import pipeline
from pipeline.cli.lazy import LazyGroup
from pipeline.cli.main import cli

SCAFFOLD = {"init", "new-project", "new-monorepo", "notebook-profiles"}


def lazy_targets(group: LazyGroup, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for name, target in sorted(group.lazy.items()):
        module = target.partition(":")[0].rsplit(".", 1)[1]
        found.append(((*prefix, name), module))
        command = group.get_command(click.Context(group), name)
        if isinstance(command, LazyGroup):
            found += lazy_targets(command, (*prefix, name))
    return found


def test_every_command_lives_in_the_module_its_name_says() -> None:
    assert isinstance(cli, LazyGroup)
    wrong = []
    for path, module in lazy_targets(cli, ()):
        words = [p.replace("-", "_") for p in path]
        allowed = (
            {"_".join(words) + "_cmd", "_".join(words[:-1]) + "_cmd"}
            if len(words) > 1
            else {words[0] + "_cmd"}
        )
        if path[-1] in SCAFFOLD and len(path) == 1:
            allowed = {"scaffold_cmd"}
        if module not in allowed:
            wrong.append(
                f"somlier {' '.join(path)}: {module}.py, expected one of {sorted(allowed)}"
            )
    assert not wrong, "\n".join(wrong)


def test_no_two_modules_of_the_package_share_a_name() -> None:
    root = Path(pipeline.__file__).parent
    names = Counter(
        p.name for p in root.rglob("*.py") if p.name != "__init__.py" and "_data" not in p.parts
    )
    assert [n for n, count in names.items() if count > 1] == []
