"""The safe YAML loader: plain data only, pathological documents refused cleanly (no timing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.main import main
from pipeline.config import yamlsafe
from pipeline.config.project import check_file, load_project
from pipeline.errors import EXIT_USER_ERROR, ConfigError, Diagnostic

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ml-projects"
EXAMPLE_FILES = sorted(EXAMPLES.glob("projects/*/somlier.yaml"))

MINIMAL = """\
project:
  name: demo
model:
  name: demo
  version: v0.0.1
entrypoints:
  main: {command: python, args: [main.py]}
"""


def load(text: str | bytes) -> Any:
    raw = text.encode() if isinstance(text, str) else text
    return yamlsafe.load_text(raw, "t.yaml").data


def refused(text: str | bytes) -> list[Diagnostic]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(ConfigError) as info:
        yamlsafe.load_text(raw, "t.yaml")
    assert info.value.diagnostics
    return info.value.diagnostics


def only(text: str | bytes) -> Diagnostic:
    diagnostics = refused(text)
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def check(tmp_path: Path, text: str) -> list[Diagnostic]:
    path = tmp_path / "somlier.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    return list(check_file(path, "somlier.yaml", {}).diagnostics)


# --- pathological documents ------------------------------------------------------------------


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused() -> None:
    diag = only(billion_laughs())
    assert "more than 100,000 values" in diag.message
    assert "alias bomb" in diag.hint
    # The first level that crosses the limit: 10^5 leaves under lol4 (line 5).
    assert (diag.line, diag.col) == (5, 7)


def test_alias_bomb_through_merge_keys_is_refused() -> None:
    text = "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n"
    for i in range(1, 8):
        refs = ", ".join([f"*m{i - 1}"] * 10)
        text += f"m{i}: &m{i} {{k{i}: [{refs}]}}\n"
    assert "more than 100,000 values" in only(text).message


def test_many_aliases_under_the_limit_load() -> None:
    data = load(billion_laughs(levels=4))  # 10^4 leaves
    assert len(data["lol3"]) == 10
    assert data["lol3"][0] is data["lol2"]  # aliases share, they are not copied


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\n",
        "a: &a {b: *a}\n",
        "a: &a\n  b:\n    c: [1, *a]\n",
        "a: &a {<<: *a}\n",
    ],
)
def test_recursive_alias_is_refused(text: str) -> None:
    diag = only(text)
    assert "alias" in diag.message
    assert diag.line == 1


def test_undefined_alias_is_refused() -> None:
    diag = only("a: *nowhere\n")
    assert "undefined alias" in diag.message
    assert (diag.line, diag.col) == (1, 4)


DEEP = 5000


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * DEEP + "]" * DEEP + "\n",
        "a: " + "{b: " * DEEP + "1" + "}" * DEEP + "\n",
        "a:\n  " + "- " * DEEP + "1\n",
        "a: " + "[{b: " * (DEEP // 2) + "1" + "}]" * (DEEP // 2) + "\n",
    ],
    ids=["flow-seq", "flow-map", "block-seq", "mixed"],
)
def test_5000_deep_nesting_is_refused_without_recursion_error(text: str) -> None:
    diag = only(text)  # a RecursionError would escape pytest.raises(ConfigError)
    assert "nesting" in diag.message
    assert "64" in diag.format()
    assert diag.line == (2 if text.startswith("a:\n") else 1)


@pytest.mark.parametrize("depth", [65, 100, 900, DEEP])
def test_deep_nesting_fails_validation_with_a_location(tmp_path: Path, depth: int) -> None:
    text = MINIMAL + "online: " + "[" * depth + "]" * depth + "\n"
    diagnostics = check(tmp_path, text)
    assert len(diagnostics) == 1, diagnostics
    assert "nest" in diagnostics[0].message
    assert diagnostics[0].line == 8


def test_deep_nesting_through_aliases_is_refused(tmp_path: Path) -> None:
    text = (
        MINIMAL + "x0: &x0 [leaf]\n" + "".join(f"x{i}: &x{i} [*x{i - 1}]\n" for i in range(1, 100))
    )
    diagnostics = check(tmp_path, text)
    assert len(diagnostics) == 1, diagnostics
    assert "nesting deeper than 64 levels" in diagnostics[0].message


def test_nesting_just_under_the_limit_is_not_refused_by_the_loader() -> None:
    data = load("a: " + "[" * 60 + "1" + "]" * 60 + "\n")
    data = data["a"]
    for _ in range(60):
        data = data[0]
    assert data == 1


def _nested_config(lists: int) -> str:
    """A somlier.yaml whose containers nest ``lists + 3`` deep (top level, model, config)."""
    nested = "model:\n  name: demo\n  version: v0.0.1\n  config: {deep: " + "[" * lists
    nested += "1" + "]" * lists + "}\n"
    return MINIMAL.replace("model:\n  name: demo\n  version: v0.0.1\n", nested)


UNRELATED_ANCHOR = "online: {istio: &flag false}\n"


@pytest.mark.parametrize("anchor", ["", UNRELATED_ANCHOR], ids=["plain", "anchor"])
def test_64_levels_are_accepted_and_65_refused(tmp_path: Path, anchor: str) -> None:
    assert check(tmp_path, _nested_config(61) + anchor) == []
    [diag] = check(tmp_path, _nested_config(62) + anchor)
    assert diag.message == "nesting deeper than 64 levels"


def test_deep_nesting_is_located_where_it_crosses_the_limit(tmp_path: Path) -> None:
    [diag] = check(tmp_path, _nested_config(62))
    assert (diag.line, diag.col) == (6, 79)  # the 65th container
    assert diag.key_path == "model.config.deep" + "[0]" * 61


def test_deep_nesting_location_does_not_depend_on_an_unrelated_anchor(tmp_path: Path) -> None:
    [plain] = check(tmp_path, _nested_config(62))
    [anchored] = check(tmp_path, _nested_config(62) + UNRELATED_ANCHOR)
    assert (anchored.line, anchored.col) == (plain.line, plain.col)


def test_file_size_limit_boundary() -> None:
    body = MINIMAL + "# "
    exact = body + "x" * (yamlsafe.MAX_BYTES - len(body) - 1) + "\n"
    assert len(exact.encode()) == yamlsafe.MAX_BYTES
    assert load(exact)["project"]["name"] == "demo"
    diag = only(exact + "\n")
    assert "larger than 1024 KiB" in diag.message
    assert (diag.line, diag.col) == (0, 0)


def test_read_file_reads_at_most_one_byte_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (3 * yamlsafe.MAX_BYTES))
    assert len(yamlsafe.read_file(path, "huge.yaml")) == yamlsafe.MAX_BYTES + 1


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.yaml", "no such file"),
        (lambda p: p, "is a folder"),
    ],
)
def test_read_file_errors_are_user_errors(tmp_path: Path, make: Any, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        yamlsafe.read_file(make(tmp_path), "shown.yaml")
    assert info.value.diagnostics[0].path == "shown.yaml"
    assert words in info.value.diagnostics[0].message


# --- plain data only -----------------------------------------------------------------------


def test_start_date_stays_a_string() -> None:
    data = load("start_date: 2024-01-01\nat: 2024-01-01T09:00:00+09:00\nspaced: 2024-1-1 9:00:00\n")
    assert data == {
        "start_date": "2024-01-01",
        "at": "2024-01-01T09:00:00+09:00",
        "spaced": "2024-1-1 9:00:00",
    }


def test_start_date_reaches_the_model_as_written(tmp_path: Path) -> None:
    text = MINIMAL + (
        "offline:\n  - {dag_id: demo_daily, schedule: '@daily', entrypoint: main,"
        " start_date: 2024-01-01}\n"
    )
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    (tmp_path / "somlier.yaml").write_text(text, encoding="utf-8")
    config = load_project(tmp_path / "somlier.yaml", {})
    assert config.offline[0].start_date == "2024-01-01"


def test_scalars_keep_their_yaml_types() -> None:
    data = load(
        "i: 3\nf: 3.10\nq: '3.10'\nb: true\nn: null\nt: ~\ns: !!str 3.10\no: 0o17\nx: 0x1f\ne: ''\n"
    )
    assert data == {
        "i": 3,
        "f": 3.1,
        "q": "3.10",
        "b": True,
        "n": None,
        "t": None,
        "s": "3.10",
        "o": "0o17",  # YAML 1.1 octal is 017; 0o17 is text
        "x": 31,
        "e": "",
    }


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", ".NaN"])
def test_infinite_and_nan_numbers_are_refused(text: str) -> None:
    diag = only(MINIMAL + f"online: {{resources: {{cpu: {text}}}}}\n")
    assert "is not a finite number" in diag.message


def test_merge_keys_work() -> None:
    data = load(
        "base: &base {image: demo, retries: 2, tags: [a]}\n"
        "job:\n  <<: *base\n  retries: 5\n"
        "many:\n  <<: [*base, {extra: true}]\n"
    )
    assert data["job"] == {"image": "demo", "retries": 5, "tags": ["a"]}
    assert data["many"] == {"image": "demo", "retries": 2, "tags": ["a"], "extra": True}


def test_merge_keys_in_a_somlier_yaml(tmp_path: Path) -> None:
    text = MINIMAL + (
        "offline:\n"
        "  - &daily {dag_id: demo_daily, schedule: '@daily', entrypoint: main, retries: 1}\n"
        "  - <<: *daily\n"
        "    dag_id: demo_hourly\n"
        "    schedule: '@hourly'\n"
    )
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    (tmp_path / "somlier.yaml").write_text(text, encoding="utf-8")
    config = load_project(tmp_path / "somlier.yaml", {})
    assert [(j.dag_id, j.schedule, j.retries) for j in config.offline] == [
        ("demo_daily", "@daily", 1),
        ("demo_hourly", "@hourly", 1),
    ]


def test_a_merge_value_must_be_a_mapping() -> None:
    diag = only("a:\n  <<: 5\n")
    assert "merg" in diag.message
    assert diag.line == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: !!set {x, y}\n", "tag:yaml.org,2002:set"),
        ("a: !!omap [{x: 1}]\n", "tag:yaml.org,2002:omap"),
        ("a: !!pairs [{x: 1}]\n", "tag:yaml.org,2002:pairs"),
        ("a: !!binary aGVsbG8=\n", "tag:yaml.org,2002:binary"),
        ("a: !!python/name:os.system\n", "python/name:os.system"),
        ("a: !!python/tuple [1, 2]\n", "python/tuple"),
        ("a: !!python/object:os.PathLike {}\n", "python/object:os.PathLike"),
        ("a: !Ref Bucket\n", "!Ref"),
        ("a: !<tag:example.com,2024:x> 1\n", "tag:example.com,2024:x"),
    ],
)
def test_forbidden_tags_are_refused(text: str, words: str) -> None:
    diag = only(text)
    assert "is not allowed" in diag.message
    assert words in diag.message
    assert (diag.line, diag.col) == (1, 4)


def test_standard_tags_are_allowed() -> None:
    data = load(
        "a: !!str 1\nb: !!int '2'\nc: !!float 3\nd: !!bool 'true'\ne: !!seq [x]\nf: !!map {}\n"
    )
    assert data == {"a": "1", "b": 2, "c": 3.0, "d": True, "e": ["x"], "f": {}}


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("1: a\n", 1, 1),
        ("on: a\n", 1, 1),
        ("a:\n  yes: b\n", 2, 3),
        ("a: {null: b}\n", 1, 5),
        ("~: a\n", 1, 1),
        ("a:\n  3.10: x\n", 2, 3),
        ("? [a, b]\n: 1\n", 1, 3),
        ("? {a: b}\n: 1\n", 1, 3),
        ("2024-01-01: x\n", 1, 1),
    ],
)
def test_keys_must_be_text(text: str, line: int, col: int) -> None:
    diag = only(text)
    assert diag.message == "a key must be text"
    assert "quote it" in diag.hint
    assert (diag.line, diag.col) == (line, col)


def test_quoted_keys_are_text() -> None:
    assert load("'1': a\n'on': b\n!!str 2: c\n") == {"1": "a", "on": "b", "2": "c"}


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("a: 1\na: 2\n", 2, 1),
        ("a: {b: 1, b: 2}\n", 1, 11),
        ("a:\n  - {x: 1}\n  - x: 1\n    y: 2\n    x: 3\n", 5, 5),
        ("a: 1\n'a': 2\n", 2, 1),
    ],
)
def test_duplicate_keys_are_refused(text: str, line: int, col: int) -> None:
    diag = only(text)
    assert (
        diag.message == "duplicate key 'a'"
        or diag.message == "duplicate key 'b'"
        or (diag.message == "duplicate key 'x'")
    )
    assert (diag.line, diag.col) == (line, col)


def test_a_merged_key_may_be_overridden() -> None:
    assert load("b: &b {x: 1}\na:\n  <<: *b\n  x: 2\n")["a"] == {"x": 2}


def test_keys_of_a_merged_mapping_must_be_text() -> None:
    diag = only("a:\n  <<: {1: x}\n")
    assert diag.message == "a key must be text"


def test_duplicate_keys_in_a_merged_mapping_are_refused() -> None:
    assert "duplicate key" in only("a:\n  <<: {x: 1, x: 2}\n").message


def test_a_merged_int_key_is_a_user_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "somlier.yaml"
    path.write_text(MINIMAL + "online: {<<: {1: 2}}\n", encoding="utf-8")
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    assert main(["validate", str(path)]) == EXIT_USER_ERROR
    assert "internal error" not in capsys.readouterr().err


# --- encodings and characters --------------------------------------------------------------


def test_utf8_bom_is_accepted() -> None:
    assert load(b"\xef\xbb\xbfa: 1\n") == {"a": 1}


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_is_refused(bom: bytes) -> None:
    diag = only(bom + "a: 1\n".encode("utf-16-le"))
    assert "UTF-16" in diag.message


def test_non_ascii_text_is_kept() -> None:
    assert load("설명: 수요 예측 ✓\n".encode()) == {"설명": "수요 예측 ✓"}


def test_invalid_utf8_is_located() -> None:
    diag = only(b"a: 1\nb: ok\nc: caf\xc3(\n")
    assert (diag.line, diag.col) == (3, 7)
    assert "0xc3" in diag.message


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\ufffe"])
def test_control_characters_are_located(char: str) -> None:
    diag = only(f"a: 1\nb: xy{char}z\n")
    assert (diag.line, diag.col) == (2, 6)
    assert f"U+{ord(char):04X}" in diag.message


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("a:\n\tb: 1\n", 2, 1),
        ("a: |\n\tx\n", 2, 1),
    ],
)
def test_tabs_as_indentation_are_explained(text: str, line: int, col: int) -> None:
    diag = only(text)
    assert "tab" in diag.message
    assert "spaces" in diag.hint
    assert (diag.line, diag.col) == (line, col)


def test_tabs_inside_values_are_fine() -> None:
    assert load("a: [1,\t2]\nb:\t3\nc: 'x\ty'\n") == {"a": [1, 2], "b": 3, "c": "x\ty"}


def test_crlf_line_ends_are_fine() -> None:
    assert load(b"a: 1\r\nb: [x,\r\n  y]\r\n") == {"a": 1, "b": ["x", "y"]}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("# nothing\n\n", "empty"),
        ("---\n", "the file is empty"),  # an explicit empty document is empty
        ("- a\n", "a list"),
        ("just text\n", "a single value"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ],
)
def test_the_top_level_must_be_one_mapping(text: str, words: str) -> None:
    assert words in only(text).message


def test_document_markers_around_one_document_are_fine() -> None:
    assert load("---\na: 1\n...\n") == {"a": 1}


def test_document_node_is_kept_for_locating() -> None:
    doc = yamlsafe.load_text(b"a:\n  b: [1, 2]\n", "t.yaml")
    assert doc.node.start_mark.line == 0
    key, value = doc.node.value[0]
    assert key.value == "a"
    assert value.start_mark.line == 1


# --- good files -----------------------------------------------------------------------------


def test_there_are_example_projects() -> None:
    assert len(EXAMPLE_FILES) >= 3


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.parent.name)
def test_example_files_load(path: Path) -> None:
    data = yamlsafe.load_text(path.read_bytes(), str(path)).data
    assert data["project"]["name"] == path.parent.name
    report = check_file(path, path.parent.name, {})
    assert report.ok, [d.format() for d in report.diagnostics]
    assert report.project == path.parent.name


def test_example_platform_settings_load() -> None:
    path = EXAMPLES / ".somlier" / "platform.yaml"
    data = yamlsafe.load_text(path.read_bytes(), str(path)).data
    assert data["builder"]["type"] == "docker"
