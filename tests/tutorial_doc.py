"""The commands of docs/tutorial.md (and its Korean twin), read from the document's fenced blocks.

Pure parsing, no I/O but reading the file: the unit tests compare the two languages with it and
the integration test (tests/integration/test_tutorial.py) runs what it returns, in order.

- A ```` ```sh ```` block: each non-empty line is a command; its output is not shown.
- A ```` ```text ```` block: a line starting with ``$ `` is a command, the lines after it (up to
  the next ``$ `` line, trailing blank lines dropped) are its output as the reader sees it.
  A prompt line (``question [default]: answer``) is what a terminal shows when the user types
  ``answer``: the answer is the command's input.
- Other blocks (``python``, none) are prose, not steps.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
TUTORIAL_KO = ROOT / "docs" / "tutorial.ko.md"

_FENCE = re.compile(r"^```(?P<lang>[A-Za-z0-9_-]*)\s*$")
# a click prompt as a terminal shows it once answered: "name (help) [default]: answer"
_PROMPT = re.compile(r"^(?P<prompt>.*\[[^\]]*\]: )(?P<answer>.*)$")


@dataclass(frozen=True)
class Command:
    """One command of the tutorial, where it stands and what it shows."""

    line: int  # 1-based line of the command in the document
    text: str  # as written, comments included
    output: tuple[str, ...] | None  # text blocks: the output shown; sh blocks: None

    @property
    def canonical(self) -> str:
        """The command without its shell comment and with normalised spacing (comments are
        translated, the commands are not)."""
        return shlex.join(shlex.split(self.text, comments=True))

    @property
    def answers(self) -> tuple[str, ...]:
        """What the user types at the command's prompts, in order."""
        return tuple(m["answer"] for m in map(_PROMPT.match, self.output or ()) if m)

    def shown(self, printed: str) -> str:
        """``printed`` (what the command wrote with the answers piped in) as a terminal shows
        it: each answered prompt followed by the echoed answer and a new line."""
        for line in self.output or ():
            m = _PROMPT.match(line)
            if m is None:
                continue
            at = printed.find(m["prompt"])
            if at < 0:
                break
            end = at + len(m["prompt"])
            printed = printed[:end] + m["answer"] + "\n" + printed[end:]
        return printed


def commands(text: str) -> list[Command]:
    """Every command of a tutorial's Markdown ``text``, in document order."""
    found: list[Command] = []
    lang: str | None = None  # inside a fence: its language
    shown = False  # inside a text block, after its first "$ " line
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence is not None:
            lang, shown = (fence["lang"] if lang is None else None), False
            continue
        if lang == "sh" and line.strip():
            found.append(Command(number, line.strip(), None))
        elif lang == "text" and line.startswith("$ "):
            found.append(Command(number, line[2:].strip(), ()))
            shown = True
        elif lang == "text" and shown:
            last = found[-1]
            found[-1] = Command(last.line, last.text, (*(last.output or ()), line))
    return [_trimmed(c) for c in found]


def _trimmed(command: Command) -> Command:
    output = list(command.output) if command.output is not None else None
    while output and not output[-1].strip():
        output.pop()
    return Command(command.line, command.text, None if output is None else tuple(output))


def read(path: Path = TUTORIAL) -> list[Command]:
    return commands(path.read_text(encoding="utf-8"))
