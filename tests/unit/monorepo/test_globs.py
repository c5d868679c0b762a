"""Globs of depends_on and global_paths: anchored at the root, ``**`` as in gitignore."""

from __future__ import annotations

import re

import pytest

from pipeline.monorepo.globs import GlobIndex, ancestors, literal_prefix, normalize, translate

CASES = [
    ("libs/common/**", "libs/common/x.py", True),
    ("libs/common/**", "libs/common/a/b/c.py", True),
    ("libs/common/**", "libs/common", False),
    ("libs/common/**", "libs/commonx/a.py", False),
    ("libs/common", "libs/common/x.py", True),
    ("libs/common/", "libs/common/x.py", True),
    ("./libs/common", "libs/common/x.py", True),
    ("/libs/common", "libs/common/x.py", True),
    ("libs/common", "libs/commons/x.py", False),
    ("**/schema.json", "schema.json", True),
    ("**/schema.json", "a/b/schema.json", True),
    ("**/schema.json", "a/b/schema.json.bak", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/x/y/bb", False),
    ("*.py", "setup.py", True),
    ("*.py", "pkg/setup.py", False),
    ("libs/*/x.py", "libs/a/x.py", True),
    ("libs/*/x.py", "libs/a/b/x.py", False),
    ("libs/?/x.py", "libs/a/x.py", True),
    ("libs/?/x.py", "libs/ab/x.py", False),
    ("libs/[ab]/x.py", "libs/b/x.py", True),
    ("libs/[ab]/x.py", "libs/c/x.py", False),
    ("libs/[!ab]/x.py", "libs/c/x.py", True),
    ("libs/[!ab]/x.py", "libs/a/x.py", False),
    ("libs/[a-c]*", "libs/b-thing", True),
    ("libs/[]x]", "libs/]", True),
    ("libs/[oops", "libs/[oops", True),
    ("data/a+b (1).csv", "data/a+b (1).csv", True),
    ("**", "anything/at/all", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), CASES)
def test_translate(pattern: str, path: str, expected: bool) -> None:
    regex = re.compile(translate(normalize(pattern)), re.DOTALL)
    assert (regex.fullmatch(path) is not None) is expected


def test_a_character_class_never_matches_a_slash() -> None:
    assert re.fullmatch(translate("a[!x]b"), "a/b") is None
    assert re.fullmatch(translate("a[/]b"), "a/b") is None


def test_literal_prefix() -> None:
    assert literal_prefix("libs/common/**") == "libs/common"
    assert literal_prefix("libs/*/x.py") == "libs"
    assert literal_prefix("**/x") == ""
    assert literal_prefix("README.md") == "README.md"


def test_ancestors() -> None:
    assert list(ancestors("a/b/c")) == ["a/b/c", "a/b", "a", ""]
    assert list(ancestors("")) == [""]


def test_index_matches_each_pattern_with_its_payload() -> None:
    index = GlobIndex(
        [("libs/common/**", "p1"), ("libs/common/**", "p2"), ("**/*.proto", "p3"), ("x", "p4")]
    )
    assert sorted(index.matches("libs/common/a.proto")) == [
        ("**/*.proto", "p3"),
        ("libs/common/**", "p1"),
        ("libs/common/**", "p2"),
    ]
    assert list(index.matches("x/y")) == [("x", "p4")]
    assert list(index.matches("y")) == []


def test_an_empty_pattern_matches_nothing() -> None:
    index = GlobIndex([("", "p"), ("./", "q")])
    assert not index
    assert list(index.matches("a")) == []
