"""Names and depends_on read from somlier.yaml files that change detection does not validate."""

from __future__ import annotations

import pytest

from pipeline.monorepo import projectfile

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
    assert projectfile.depends_on(text, "a/somlier.yaml", {}) == ()


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
    assert projectfile.name("project: {name: '${NAME}'}\n", "x", env) == "from-env"
    assert projectfile.name("project:\n  name: ${MISSING:dflt}\n", "x", env) == "dflt"
    text = "project:\n  name: a\n  depends_on: ['${LIB}/**', 'libs/[ab]/x']\n"
    assert projectfile.depends_on(text, "x", env) == ("shared/**", "libs/[ab]/x")
    block = "project:\n  name: a\n  depends_on:\n  - libs/**\n"
    assert projectfile.depends_on(block, "x", env) == ("libs/**",)


def test_a_broken_file_has_no_name_and_no_depends_on() -> None:
    broken = "project: [\n depends_on"
    assert projectfile.name(broken, "x", {}) is None
    assert projectfile.depends_on(broken, "x", {}) == ()
    assert projectfile.name("just text\n", "x", {}) is None
