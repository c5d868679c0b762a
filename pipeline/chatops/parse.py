"""The comment command grammar: a strict tokenizer, never a shell.

A command is a line of the comment that starts with ``/`` and that a reader sees as top-level
text (:mod:`pipeline.chatops.visible`: not quoted, not code, not hidden by HTML). Its words
are split on whitespace only; every word must match a narrow pattern before anything looks at
it, so quotes, ``$``, ``;``, backticks, pipes or redirections are refused, never
interpreted. A refused line is reported back with the reason; it reaches no API and no action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from pipeline.chatops.visible import FORMATTED
from pipeline.online.request import ENVIRONMENTS, MODEL_NAME, MODEL_VERSION

COMMANDS = ("deploy", "build", "dag", "rollback", "help")
MAX_COMMANDS = 10  # per comment: more lines are refused, not silently dropped
MAX_LINE = 200
MAX_PROJECTS = 20
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_OPTION = re.compile(r"--([a-z][a-z-]*)(?:=([A-Za-z0-9][A-Za-z0-9._-]*))?")
_COMMAND = re.compile(r"/([A-Za-z][A-Za-z0-9_-]*)")
PROJECT = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")

USAGE = {
    "deploy": "/deploy MODEL VERSION [--gpu] [--istio] [--env dev|prod]",
    "build": "/build [PROJECT…]",
    "dag": "/dag [PROJECT]",
    "rollback": "/rollback MODEL [--env dev|prod]",
    "help": "/help",
}
_FLAGS = {"deploy": {"gpu", "istio", "env"}, "rollback": {"env"}}


@dataclass(frozen=True)
class Command:
    """One command line of a comment, parsed; ``error`` says why it is refused as written."""

    index: int  # its position among the comment's command lines: the key of its reply
    name: str  # one of COMMANDS, or the unknown word as typed (safe characters only)
    text: str  # the line as it is shown back (checked words only, or a redacted line)
    model: str | None = None
    version: str | None = None
    projects: tuple[str, ...] = ()
    env: str = "dev"
    gpu: bool = False
    istio: bool = False
    error: str | None = None
    unknown: bool = field(default=False)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"command": self.name, "text": self.text}
        if self.name in ("deploy", "rollback"):
            data.update(model=self.model, env=self.env)
        if self.name == "deploy":
            data.update(version=self.version, gpu=self.gpu, istio=self.istio)
        if self.name in ("build", "dag"):
            data["projects"] = list(self.projects)
        return data


def shown(word: str, limit: int = 40) -> str:
    """A word from a comment, safe to put back into Markdown: no backticks, no newlines."""
    cleaned = "".join(c if c.isprintable() and c != "`" else "?" for c in word)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def command_lines(body: str) -> list[str]:
    """The lines that are commands: visible lines of top-level paragraphs that start with
    ``/`` (:mod:`pipeline.chatops.visible`: as GitHub renders the comment)."""
    from pipeline.chatops.visible import visible_lines

    lines = []
    for line in visible_lines(body):
        match = _COMMAND.match(line)
        if match is None:
            continue
        # "/tmp is full" is prose, "/deploy;id" a command refused as written
        rest = line[match.end() :]
        if not rest or rest[0].isspace() or match.group(1).lower() in COMMANDS:
            lines.append(line)
    return lines


def parse_comment(body: str) -> list[Command]:
    """Every command of a comment, in order; invalid ones carry their ``error``."""
    commands = []
    for index, line in enumerate(command_lines(body)):
        if index == MAX_COMMANDS:
            commands.append(
                Command(index, "help", "…", error=f"at most {MAX_COMMANDS} commands per comment")
            )
            break
        commands.append(parse_line(index, line))
    return commands


def parse_line(index: int, line: str) -> Command:
    match = _COMMAND.match(line)
    assert match is not None
    name = match.group(1).lower()
    bare = Command(index, name, f"/{shown(name)}")
    if name not in COMMANDS:
        return replace(
            bare, name=shown(name), unknown=True, error=f"unknown command /{shown(name)}"
        )
    if len(line) > MAX_LINE:
        return replace(bare, error=f"the line is longer than {MAX_LINE} characters")
    if FORMATTED in line:
        return replace(
            bare,
            error="a command line is plain text: no code spans, links, emphasis or HTML in it",
        )
    words = line.split()[1:]
    if line[match.end() :] and not line[match.end()].isspace():
        return replace(bare, error=f"unexpected characters after /{name}")
    for word in words:
        if not (_WORD.fullmatch(word) or _OPTION.fullmatch(word)):
            return replace(
                bare,
                # in a code span: a "@team" or "<img>" in the word pings or renders nothing
                error=f"`{shown(word)}` is not allowed: arguments are letters, digits, "
                "'.', '_' and '-' (and --options)",
            )
    text = " ".join([f"/{name}", *words])
    return _arguments(replace(bare, text=text), words)


def _arguments(command: Command, words: list[str]) -> Command:
    positional: list[str] = []
    options: dict[str, str | None] = {}
    pending: str | None = None
    for word in words:
        option = _OPTION.fullmatch(word)
        if pending is not None:
            if option:
                return _bad(command, f"--{pending} needs a value")
            options[pending], pending = word, None
            continue
        if option is None:
            positional.append(word)
            continue
        key, value = option.group(1), option.group(2)
        if key not in _FLAGS.get(command.name, set()):
            return _bad(command, f"unknown option --{key}")
        if key in options:
            return _bad(command, f"--{key} given twice")
        if key == "env" and value is None:
            pending = key
            continue
        if key != "env" and value is not None:
            return _bad(command, f"--{key} takes no value")
        options[key] = value
    if pending is not None:
        return _bad(command, f"--{pending} needs a value")
    env = options.get("env") or "dev"
    if env not in ENVIRONMENTS:
        return _bad(command, f"--env must be one of {', '.join(ENVIRONMENTS)}")
    return _check(command, positional, env, "gpu" in options, "istio" in options)


def _check(command: Command, args: list[str], env: str, gpu: bool, istio: bool) -> Command:
    name = command.name
    if name == "help":
        return command if not args else _bad(command, "/help takes no arguments")
    if name in ("deploy", "rollback"):
        wanted = 2 if name == "deploy" else 1
        if len(args) != wanted:
            return _bad(command, f"expected {wanted} argument{'s' * (wanted > 1)}")
        if not MODEL_NAME.fullmatch(args[0]):
            return _bad(command, f"invalid model name {args[0]!r}")
        version = None
        if name == "deploy":
            version = args[1].removeprefix("v")
            if not MODEL_VERSION.fullmatch(version):
                return _bad(command, f"invalid model version {args[1]!r} (a positive integer)")
        return replace(command, model=args[0], version=version, env=env, gpu=gpu, istio=istio)
    limit = 1 if name == "dag" else MAX_PROJECTS
    if len(args) > limit:
        return _bad(command, f"at most {limit} project{'s' * (limit > 1)}")
    for arg in args:
        if not PROJECT.fullmatch(arg):
            return _bad(command, f"invalid project name {arg!r} (a DNS-1123 label)")
    return replace(command, projects=tuple(dict.fromkeys(args)))


def _bad(command: Command, reason: str) -> Command:
    return replace(command, error=f"{reason}; usage: {USAGE[command.name]}")


def help_text() -> str:
    lines = ["Commands (one per line, several per comment):", ""]
    lines += [f"- `{usage}`" for usage in USAGE.values()]
    lines += [
        "",
        "Only collaborators with write, maintain or admin permission may run them, within the "
        "allowlists of `.somlier/OWNERS.yaml` on the default branch. A `prod` deploy needs an "
        "approved, mergeable pull request into the default branch, and a model version "
        "registered from a run of one of its commits.",
    ]
    return "\n".join(lines)
