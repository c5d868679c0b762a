"""Schema validation: a compiled fast path for valid data, then every error, located and explained.

The JSON Schema in ``schemas/`` is the one source of truth. Valid files (the common case) only
pay for a compiled validator (fastjsonschema, on the keywords our schemas share with draft 7);
a file that fails is validated again with ``jsonschema``'s Draft 2020-12 validator to list every
error, each turned into a sentence and located on the YAML node it is about.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from pipeline import resources
from pipeline.config.interpolate import KeyPath

Validate = Callable[[Any], Any]


@functools.cache
def fast_validator(name: str) -> Validate:
    import fastjsonschema

    # compile() rewrites the $refs of the dict it is given: hand it a copy of the cached schema.
    definition = copy.deepcopy(resources.schema(name))
    compiled: Validate = fastjsonschema.compile(definition, use_default=False)
    return compiled


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """``pattern`` as JSON Schema means it (ECMA-262): a final ``$`` is the end of the text.

    Python's ``$`` also matches before a trailing newline, so jsonschema alone would accept
    ``"name\\n"`` where the fast validator refuses it and leave the error without a finding.
    """
    from jsonschema.exceptions import ValidationError

    if not isinstance(instance, str):
        return
    anchored = (
        pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
    )
    if not re.search(anchored, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _full_validator(name: str) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    strict = extend(Draft202012Validator, {"pattern": _ecma_pattern})  # type: ignore[no-untyped-call]
    return strict(resources.schema(name))


def is_valid(name: str, data: Any) -> bool:
    from fastjsonschema import JsonSchemaException

    try:
        fast_validator(name)(data)
    except JsonSchemaException:
        return False
    return True


def format_path(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def suggest(word: str, options: Iterator[str] | list[str]) -> str:
    """``did you mean 'x'?`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


class Finding:
    """One schema violation: where (key path, and whether the key or its value) and what."""

    __slots__ = ("at_key", "hint", "message", "path")

    def __init__(self, path: KeyPath, message: str, hint: str = "", at_key: bool = False) -> None:
        self.path = path
        self.message = message
        self.hint = hint
        self.at_key = at_key


def _findings(error: Any) -> list[Finding]:
    path: KeyPath = tuple(error.absolute_path)
    where = format_path(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-error", "")
    kind = error.validator
    value = error.instance
    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extras = [k for k in value if k not in allowed]
        return [
            Finding(
                (*path, key),
                f"unknown key {key!r}" + (f" in {where}" if path else ""),
                suggest(key, allowed) or (f"allowed here: {', '.join(allowed)}" if allowed else ""),
                at_key=True,
            )
            for key in extras
        ]
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else error.message
        return [Finding(path, f"{where}: missing required key {name!r}", at_key=True)]
    if kind == "type":
        wanted = error.validator_value
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted_list)
        hint = ""
        if "string" in wanted_list and isinstance(value, float):
            hint = "write it in quotes; unquoted, YAML reads 3.10 as the number 3.1"
        return [Finding(path, f"{where}: expected {words}, got {_describe(value)}", hint)]
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        return [
            Finding(
                path,
                f"{where}: {value!r} is not one of {', '.join(repr(o) for o in options)}",
                suggest(str(value), options),
            )
        ]
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        bound = error.validator_value
        words = {
            "minimum": f"at least {bound}",
            "maximum": f"at most {bound}",
            "exclusiveMinimum": f"more than {bound}",
            "exclusiveMaximum": f"less than {bound}",
        }[kind]
        return [Finding(path, f"{where}: must be {words}, got {value}")]
    if kind == "propertyNames":
        bad = error.instance if isinstance(error.instance, str) else error.message
        return [Finding(path, f"{where}: {bad!r} is not a valid name", custom)]
    if kind == "pattern":
        return [Finding(path, f"{where}: {value!r} is not valid", custom)]
    if kind in {"minProperties", "minItems", "minLength"}:
        return [Finding(path, f"{where}: must not be empty", custom)]
    if kind in {"anyOf", "oneOf", "not"}:
        if custom:
            return [Finding(path, f"{where}: {custom}")]
        from jsonschema.exceptions import best_match

        # Prefer the branch whose type matched: its complaint is the one about this value.
        typed = [e for e in error.context or () if e.validator != "type"]
        inner = best_match(typed or error.context) if error.context else None
        return _findings(inner) if inner is not None else [Finding(path, f"{where} is not valid")]
    return [Finding(path, f"{where}: {error.message}", custom)]


def findings(name: str, data: Any) -> list[Finding]:
    """Every violation of schema ``name`` in ``data``, in document order."""
    validator = _full_validator(name)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    result: list[Finding] = []
    for error in errors:
        if "propertyNames" in error.absolute_schema_path:
            # jsonschema reports the offending name as the instance; point at that key.
            result.append(
                Finding(
                    (*tuple(error.absolute_path), error.instance),
                    f"{format_path(tuple(error.absolute_path))}: "
                    f"{error.instance!r} is not a valid name",
                    error.schema.get("x-error", "") if isinstance(error.schema, dict) else "",
                    at_key=True,
                )
            )
            continue
        result.extend(_findings(error))
    return result


def locate(node: Node, path: KeyPath, at_key: bool) -> tuple[int, int]:
    """1-based line and column of the key (or value) at ``path``; the nearest parent if absent."""
    current = node
    mark = node.start_mark
    for part in path:
        if isinstance(current, MappingNode) and isinstance(part, str):
            for key_node, value_node in current.value:
                if getattr(key_node, "value", None) == part:
                    mark = key_node.start_mark
                    current = value_node
                    break
            else:
                break
        elif isinstance(current, SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                break
            current = current.value[part]
            mark = current.start_mark
        else:
            break
    else:
        if not at_key:
            mark = current.start_mark
    return mark.line + 1, mark.column + 1
