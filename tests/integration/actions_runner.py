"""Run somlier's composite actions (``actions/<name>/action.yml``) here, as the GitHub runner does.

What it does, like the runner:

- inputs: ``with:`` values over the action's defaults (defaults may be expressions such as
  ``${{ github.token }}``); a missing required input is an error. Each input is also in the
  steps' environment as ``INPUT_<NAME>``;
- expressions: ``${{ … }}`` in ``env:``, ``with:``, ``working-directory:``, ``if:`` and the action's
  ``outputs:``, over the contexts ``inputs``, ``env``, ``steps.<id>.outputs.<name>`` /
  ``.outcome`` / ``.conclusion``, ``github.*`` and ``runner.*``, with literals, ``== != && || !``,
  parentheses and ``success() failure() always() cancelled() startsWith() contains()
  fromJSON()`` (with ``.name`` / ``[index]`` on its result).
  Anything else raises :class:`ExpressionError`, so an action cannot use what this runner would
  evaluate wrongly. ``run:`` scripts are never expanded: they must not contain ``${{``;
- ``run:`` steps: ``bash --noprofile --norc -eo pipefail SCRIPT`` (GitHub's ``shell: bash``) in
  ``working-directory`` (relative to the workspace), with fresh ``GITHUB_OUTPUT``,
  ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV`` and ``GITHUB_PATH`` files per step, read afterwards:
  outputs become ``steps.<id>.outputs``, summaries are joined, ``GITHUB_ENV`` / ``GITHUB_PATH``
  apply to the later steps;
- ``uses:`` steps (third-party actions such as actions/setup-python) do not run: their outputs
  come from ``fake_uses={step_id: {output: value}}``.

``skip={step_id, …}`` skips steps by id. The tests skip the ``setup`` action's ``install`` step
(it installs somlier from PyPI) and put the virtualenv's ``bin`` (where ``somlier`` is) first on
``PATH`` instead: the same state the install step leaves.

    runner = ActionRunner(workspace=repo, env=environ, github={"event_name": "push", ...})
    result = runner.run("changed", {"base": "main"})
    result.outputs["matrix"], result.summary, result.ok
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTIONS = Path(__file__).resolve().parents[2] / "actions"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression this runner does not evaluate (or that GitHub would reject)."""


@dataclass
class StepResult:
    id: str
    outcome: str  # success, failure, skipped
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    env_added: dict[str, str] = field(default_factory=dict)
    path_added: list[str] = field(default_factory=list)


@dataclass
class ActionResult:
    outputs: dict[str, str]
    steps: list[StepResult]
    summary: str
    path: list[str]  # what the steps added to PATH, in order
    env: dict[str, str]  # what the steps added through GITHUB_ENV

    @property
    def ok(self) -> bool:
        return all(step.outcome != "failure" for step in self.steps)

    @property
    def stdout(self) -> str:
        return "".join(step.stdout for step in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(step.stderr for step in self.steps)

    def step(self, step_id: str) -> StepResult:
        return next(step for step in self.steps if step.id == step_id)


def parse_command_file(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT`` / ``GITHUB_ENV`` syntax: ``name=value`` and ``name<<DELIM`` … ``DELIM``."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"no closing delimiter {delimiter!r} for {name!r}")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"not a command-file line: {line!r}")
    return values


# --- expressions -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||[!().,\[\]])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", 0)


def _loose(value: Any) -> Any:
    """GitHub compares strings case-insensitively, and null as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return str(value).lower()
    return value


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any], status: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status  # success / failure: the job's state so far
        self.skipping = 0  # > 0: parsing the side of && / || that GitHub does not evaluate

    def parse(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.pos][1]!r} in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExpressionError(f"unexpected end of {self.text!r}")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r}, found {token[1]!r} in {self.text!r}")
        self.pos += 1
        return token

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._short_circuited(self._and, skip=_truthy(left))
            left = left if _truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._short_circuited(self._compare, skip=not _truthy(left))
            left = right if _truthy(left) else left
        return left

    def _short_circuited(self, parse: Any, *, skip: bool) -> Any:
        self.skipping += skip
        try:
            return parse()
        finally:
            self.skipping -= skip

    def _compare(self) -> Any:
        left = self._unary()
        while self._peek() in ("==", "!="):
            op = self._take()[1]
            right = self._unary()
            equal = _loose(left) == _loose(right)
            left = equal if op == "==" else not equal
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, value = self._take()
        if value == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind != "name":
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if self._peek() == "(":
            return self._members(self._call(value))
        return self._reference(value)

    def _call(self, name: str) -> Any:
        self._take("(")
        args: list[Any] = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take(")")
        if name in ("success", "failure", "always", "cancelled") and args:
            raise ExpressionError(f"{name}() takes no arguments")
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "always":
            return True
        if name == "cancelled":
            return False
        if name == "startsWith" and len(args) == 2:
            return str(_loose(args[0])).startswith(str(_loose(args[1])))
        if name == "contains" and len(args) == 2:
            return str(_loose(args[1])) in str(_loose(args[0]))
        if name == "fromJSON" and len(args) == 1:
            if self.skipping:
                return None
            try:
                return json.loads(str(args[0]))
            except ValueError as exc:  # GitHub fails the expression too
                raise ExpressionError(f"fromJSON: not JSON ({exc}) in {self.text!r}") from exc
        raise ExpressionError(f"function {name}() is not supported by this runner")

    def _members(self, value: Any) -> Any:
        """``.name`` and ``[index]`` after a call (``fromJSON(x).list[0]``); missing: null."""
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key: Any = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            if isinstance(value, Mapping):
                value = value.get(str(key))
            elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
                value = value[key]
            else:
                value = None
        return value

    def _reference(self, root: str) -> Any:
        if root not in self.contexts:
            raise ExpressionError(f"unknown context {root!r} in {self.text!r}")
        value: Any = self.contexts[root]
        path = [root]
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = str(self._or())
                self._take("]")
            path.append(key)
            if isinstance(value, Mapping):
                if root in ("inputs", "steps") and key not in value and len(path) <= 3:
                    raise ExpressionError(f"{'.'.join(path)} is not defined (in {self.text!r})")
                value = value.get(key)
            else:
                value = None
        return value


def evaluate(text: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    """One expression, without ``${{ }}``."""
    return _Parser(text, contexts, status).parse()


def _as_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(text: Any, contexts: Mapping[str, Any]) -> str:
    """A value with ``${{ … }}`` parts, as a string."""
    return EXPRESSION.sub(lambda m: _as_string(evaluate(m.group(1), contexts)), str(text))


def condition(text: Any, contexts: Mapping[str, Any], status: str) -> bool:
    """An ``if:``: ``${{ }}`` optional; without a status function, ``success() &&`` is implied."""
    raw = str(text).strip()
    whole = EXPRESSION.fullmatch(raw)
    expression = whole.group(1) if whole else raw
    if not re.search(r"\b(success|failure|always|cancelled)\(", expression):
        expression = f"success() && ({expression})"
    return _truthy(evaluate(expression, contexts, status))


# --- the runner ------------------------------------------------------------------------------


class ActionRunner:
    """Runs ``actions/<name>/action.yml`` against ``workspace`` with ``env`` as the job's
    environment and ``github`` as the ``github`` context (``event`` is read from
    ``GITHUB_EVENT_PATH`` when it is not given)."""

    def __init__(
        self,
        workspace: Path,
        env: Mapping[str, str],
        github: Mapping[str, Any] | None = None,
        actions_dir: Path = ACTIONS,
        temp: Path | None = None,
    ) -> None:
        self.workspace = workspace
        self.env = dict(env)
        self.actions_dir = actions_dir
        self.temp = temp or Path(tempfile.mkdtemp(prefix="somlier-runner-"))
        self.github: dict[str, Any] = {"workspace": str(workspace), **(github or {})}
        if "event" not in self.github and self.env.get("GITHUB_EVENT_PATH"):
            import json

            self.github["event"] = json.loads(Path(self.env["GITHUB_EVENT_PATH"]).read_text())

    def definition(self, name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(
            (self.actions_dir / name / "action.yml").read_text()
        )
        if loaded["runs"]["using"] != "composite":
            raise ValueError(f"{name}: not a composite action")
        return loaded

    def run(
        self,
        name: str,
        inputs: Mapping[str, str] | None = None,
        *,
        skip: frozenset[str] | set[str] = frozenset(),
        fake_uses: Mapping[str, Mapping[str, str]] | None = None,
    ) -> ActionResult:
        action = self.definition(name)
        github = {**self.github, "action_path": str(self.actions_dir / name)}
        runner = {"temp": str(self.temp), "os": "Linux", "arch": "X64"}
        base: dict[str, Any] = {"github": github, "runner": runner, "env": dict(self.env)}
        given = dict(inputs or {})
        declared = action.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise ValueError(f"{name}: unknown inputs {sorted(unknown)}")
        values: dict[str, str] = {}
        for key, spec in declared.items():
            if key in given:
                values[key] = given[key]
            elif "default" in spec:
                values[key] = interpolate(spec["default"], base)
            elif spec.get("required"):
                raise ValueError(f"{name}: the required input {key!r} is missing")
            else:
                values[key] = ""
        steps: dict[str, Any] = {}
        contexts = {**base, "inputs": values, "steps": steps}
        env = dict(self.env)
        env.update({"RUNNER_TEMP": str(self.temp), "GITHUB_ACTION_PATH": github["action_path"]})
        for key, value in values.items():
            env[f"INPUT_{key.replace(' ', '_').upper()}"] = value
        added_path: list[str] = []
        added_env: dict[str, str] = {}
        summaries: list[str] = []
        results: list[StepResult] = []
        status = "success"
        for index, step in enumerate(action["runs"]["steps"]):
            step_id = str(step.get("id") or f"__{index}")
            if step_id in skip or not condition(step.get("if", "success()"), contexts, status):
                results.append(StepResult(step_id, "skipped"))
                steps[step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
                continue
            if "uses" in step:
                for value in (step.get("with") or {}).values():
                    interpolate(value, contexts)  # the expressions must evaluate all the same
                outputs = dict((fake_uses or {}).get(step_id, {}))
                results.append(StepResult(step_id, "success", outputs=outputs))
                steps[step_id] = {"outputs": outputs, "outcome": "success", "conclusion": "success"}
                continue
            result = self._run_step(name, step_id, step, contexts, env)
            summaries.append(result.summary)
            for key, value in result.env_added.items():
                env[key] = added_env[key] = value
            for entry in result.path_added:
                env["PATH"] = f"{entry}{os.pathsep}{env.get('PATH', '')}"
                added_path.append(entry)
            results.append(result)
            steps[step_id] = {
                "outputs": result.outputs,
                "outcome": result.outcome,
                "conclusion": result.outcome,
            }
            if result.outcome == "failure":
                status = "failure"
        outputs = {
            key: interpolate(spec.get("value", ""), contexts)
            for key, spec in (action.get("outputs") or {}).items()
        }
        return ActionResult(outputs, results, "".join(summaries), added_path, added_env)

    def _run_step(
        self,
        name: str,
        step_id: str,
        step: Mapping[str, Any],
        contexts: Mapping[str, Any],
        env: Mapping[str, str],
    ) -> StepResult:
        script = str(step["run"])
        if "${{" in script:
            raise ExpressionError(f"{name}/{step_id}: an expression inside run: (use env:)")
        if step.get("shell") != "bash":
            raise ValueError(f"{name}/{step_id}: this runner runs shell: bash steps only")
        folder = self.temp / f"{name}-{step_id}-{os.urandom(4).hex()}"
        folder.mkdir(parents=True)
        files = {k: folder / k for k in ("output", "summary", "env", "path")}
        for path in files.values():
            path.write_text("")
        script_path = folder / "script.sh"
        script_path.write_text(script)
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            step_env[str(key)] = interpolate(value, contexts)
        step_env.update(
            {
                "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_STEP_SUMMARY": str(files["summary"]),
                "GITHUB_ENV": str(files["env"]),
                "GITHUB_PATH": str(files["path"]),
            }
        )
        cwd = self.workspace
        if step.get("working-directory"):
            cwd = self.workspace / interpolate(step["working-directory"], contexts)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        return StepResult(
            step_id,
            "success" if done.returncode == 0 else "failure",
            done.returncode,
            done.stdout,
            done.stderr,
            outputs=parse_command_file(files["output"].read_text()),
            summary=files["summary"].read_text(),
            env_added=parse_command_file(files["env"].read_text()),
            path_added=[line for line in files["path"].read_text().splitlines() if line],
        )
