"""Names and depends_on read from somlier.yaml files that change detection does not validate."""

from __future__ import annotations

import pytest

from pipeline.config.variables import Variables
from pipeline.monorepo import projectfile


def allowing(*names: str) -> projectfile.Rule:
    return lambda: Variables(frozenset(names), {})


NONE = allowing()

BLOCK = """\
# a comment
global: {env: dev}
project:
  # the name is the image's
  name: churn-model   # trailing comment
  python: {version: "3.11"}
  docker:
    name: other
  depends_on: ["libs/common/**", 'proto/*.proto', libs/extra]
model: {name: churn-model, version: v1}
"""

BLOCK_LIST = """\
project:
    name: "fraud"
    depends_on:
      - libs/common/**
      - "**/schema.json"
    docker: {name: fraud}
"""


def test_block_style_is_read_without_a_parser() -> None:
    assert projectfile.quick_name(BLOCK) == "churn-model"
    assert projectfile.quick_depends_on(BLOCK) == ("libs/common/**", "proto/*.proto", "libs/extra")
    assert projectfile.quick_name(BLOCK_LIST) == "fraud"
    assert projectfile.quick_depends_on(BLOCK_LIST) == ("libs/common/**", "**/schema.json")
    same_indent = "project:\n  depends_on:\n  - a/**\n  - b\n  name: x\n"
    assert projectfile.quick_depends_on(same_indent) == ("a/**", "b")
    assert projectfile.quick_name(same_indent) == "x"


def test_no_depends_on_is_empty() -> None:
    text = "project:\n  name: a\n  docker:\n    depends_on: [nope]\nmodel: {depends_on: x}\n"
    assert projectfile.quick_depends_on(text) == ()
    assert projectfile.depends_on(text, "a/somlier.yaml", {}, NONE) == ()


@pytest.mark.parametrize(
    "text",
    [
        "project: {name: flow}\n",
        "project:\n  name: ${NAME:flow}\n",
        "project:\n  name: 'it''s'\n",
        "project:\n  name: 123\n",
        "project:\n  name: &anchor flow\n",
    ],
)
def test_other_spellings_take_the_parser(text: str) -> None:
    assert projectfile.quick_name(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "project:\n  name: a\n  depends_on: ['${LIB:libs}/**']\n",
        "project:\n  name: a\n  depends_on: [libs/[ab]/x]\n",
        "project:\n  name: a\n  depends_on: [*alias]\n",
        "project:\n  name: a\n  depends_on: [true]\n",
        "project:\n  name: a\n  depends_on: libs/**\n",
        "project:\n  name: a\n  depends_on: [libs/**]  # why\n",
        "project:\n  name: a\n  depends_on:\n  - libs/** # why\n",
    ],
)
def test_other_depends_on_spellings_take_the_parser(text: str) -> None:
    assert projectfile.quick_depends_on(text) is None


def test_the_parser_interpolates_like_a_validated_file() -> None:
    env = {"NAME": "from-env", "LIB": "shared"}
    rule = allowing("NAME", "LIB", "MISSING")
    assert projectfile.name("project: {name: '${NAME}'}\n", "x", env, rule) == "from-env"
    assert projectfile.name("project:\n  name: ${MISSING:dflt}\n", "x", env, rule) == "dflt"
    text = "project:\n  name: a\n  depends_on: ['${LIB}/**', 'libs/[ab]/x']\n"
    assert projectfile.depends_on(text, "x", env, rule) == ("shared/**", "libs/[ab]/x")
    block = "project:\n  name: a\n  depends_on:\n  - libs/**\n"
    assert projectfile.depends_on(block, "x", env, rule) == ("libs/**",)


def test_the_parser_reads_only_allowed_variables_and_never_a_secret() -> None:
    """A name from a variable the platform does not allow, or from a secret, is no name at all
    (the folder's is used, and validate reports the file): the value never reaches the report."""
    env = {"NAME": "from-env", "GITHUB_TOKEN": "ghp_secret", "LIB": "shared"}
    for text in (
        "project: {name: '${NAME}'}\n",
        "project: {name: '${GITHUB_TOKEN}'}\n",
        "project: {name: '${github_token:x}'}\n",
    ):
        assert projectfile.name(text, "x", env, NONE) is None
        assert projectfile.name(text, "x", env, allowing("NAME", "GITHUB_TOKEN")) in (
            None,
            "from-env",
        )
    leak = "project:\n  name: a\n  depends_on: ['${GITHUB_TOKEN}/**']\n"
    assert projectfile.depends_on(leak, "x", env, allowing("GITHUB_TOKEN")) == ()


def test_a_broken_file_has_no_name_and_no_depends_on() -> None:
    broken = "project: [\n depends_on"
    assert projectfile.name(broken, "x", {}, NONE) is None
    assert projectfile.depends_on(broken, "x", {}, NONE) == ()
    assert projectfile.name("just text\n", "x", {}, NONE) is None
