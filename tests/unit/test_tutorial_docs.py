"""docs/tutorial.ko.md is docs/tutorial.md's twin: the same commands, in the same order, showing
the same output (only the prose, shell comments and commit messages are translated)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests import tutorial_doc
from tests.tutorial_doc import Command


def _argv(command: Command) -> list[str]:
    """The command's words; a commit message (free text, translated) is a placeholder."""
    words = shlex.split(command.text, comments=True)
    for i, word in enumerate(words[:-1]):
        if words[:2] == ["git", "commit"] and word == "-m":
            words[i + 1] = "<message>"
    return words


def test_the_korean_tutorial_names_the_same_commands_in_the_same_order() -> None:
    english = [_argv(c) for c in tutorial_doc.read(tutorial_doc.TUTORIAL)]
    korean = [_argv(c) for c in tutorial_doc.read(tutorial_doc.TUTORIAL_KO)]
    assert [shlex.join(a) for a in korean] == [shlex.join(a) for a in english]


def test_the_korean_tutorial_shows_the_same_output() -> None:
    english = [c.output for c in tutorial_doc.read(tutorial_doc.TUTORIAL)]
    korean = [c.output for c in tutorial_doc.read(tutorial_doc.TUTORIAL_KO)]
    assert korean == english


def test_the_tutorial_has_the_journey() -> None:
    """The steps the integration test runs are in the document (a rewrite that drops one
    would otherwise pass unnoticed)."""
    names = [c.canonical for c in tutorial_doc.read()]
    journey = [
        "make new-project",
        "make build file=notebooks/example/example.ipynb",
        "somlier config run test",
        "git switch -c nuj-project",
        "git push -u origin nuj-project",
        "somlier online train",
        "somlier online register",
        "somlier pipeline build",
        "somlier offline create",
        "somlier dags check",
        "somlier online deploy nuj-project 1 --once",
        "somlier online deploy nuj-project 1 --use_k8s",
    ]
    at = 0
    for wanted in journey:
        found = [i for i, name in enumerate(names) if i >= at and name.startswith(wanted)]
        assert found, f"{wanted!r} is missing from docs/tutorial.md, or out of order"
        at = found[0] + 1
    gpu = [n for n in names if n.startswith("somlier offline create") and "--gpu_type" in n]
    assert gpu, "the GPU form of offline create is missing"


TEXT = """\
Intro.

```sh
cd x   # a comment
```

```text
$ make new-project
somlier new-project
name (the name) [example]: nuj
Created.

$ somlier config show
Project Name: nuj

```

```python
print("not a step")
```
"""


def test_blocks_are_read_as_commands_outputs_and_answers() -> None:
    first, second, third = tutorial_doc.commands(TEXT)
    assert (first.line, first.text, first.output, first.canonical) == (
        4,
        "cd x   # a comment",
        None,
        "cd x",
    )
    assert second.output == ("somlier new-project", "name (the name) [example]: nuj", "Created.")
    assert second.answers == ("nuj",)
    assert second.shown("somlier new-project\nname (the name) [example]: Created.\n") == (
        "somlier new-project\nname (the name) [example]: nuj\nCreated.\n"
    )
    assert (third.text, third.output) == ("somlier config show", ("Project Name: nuj",))


@pytest.mark.parametrize("path", [tutorial_doc.TUTORIAL, tutorial_doc.TUTORIAL_KO])
def test_every_fence_is_closed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
