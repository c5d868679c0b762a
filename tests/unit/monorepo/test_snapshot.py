"""The projects kept between runs: the somlier.yaml entries of a tree diff, and the stored file
(what git says is tested in tests/integration/test_changed.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config.project import FILENAME
from pipeline.monorepo import gitdiff, snapshot
from pipeline.monorepo.changes import MARKER
from pipeline.monorepo.gitdiff import MarkerChange

Z40 = "0" * 40
B1, B2, B3 = "1" * 40, "2" * 40, "3" * 40
C1 = "c" * 40


def test_the_marker_is_the_config_file_name() -> None:
    assert MARKER == FILENAME


def test_parse_marker_changes() -> None:
    text = "\0".join(
        [
            f":100644 100644 {B1} {B2} M",
            "p/somlier.yaml",
            f":000000 100644 {Z40} {B3} A",
            "somlier.yaml",
            f":100644 000000 {B1} {Z40} D",
            "q/somlier.yaml",
            f":100644 120000 {B1} {B2} T",
            "r/somlier.yaml",
            f":100644 160000 {B1} {B2} T",
            "s/somlier.yaml",  # now a submodule: no project
            f":100644 100644 {B1} {B2} M",
            "p/main.py",
            f":100644 100644 {B1} {B2} M",
            "p/somlier.yaml.bak",
            f":000000 100644 {Z40} {B2} A",
            "t/my somlier.yaml",
            "",
        ]
    )
    assert gitdiff.parse_marker_changes(text) == [
        MarkerChange("p", B2),
        MarkerChange("", B3),
        MarkerChange("q", None),
        MarkerChange("r", B2),
        MarkerChange("s", None),
    ]
    assert gitdiff.parse_marker_changes("") == []


def test_stored_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "git" / "somlier" / "projects.json"
    projects = snapshot.Projects(C1, {"": B1, "a/b": B2, "c": B2}, {B2})
    snapshot.save(path, projects)
    loaded = snapshot.load(path)
    assert loaded is not None
    assert (loaded.commit, loaded.markers, loaded.mentions) == (C1, projects.markers, {B2})
    assert loaded.declaring() == {"a/b": B2, "c": B2}
    assert [p.name for p in path.parent.iterdir()] == ["projects.json"]  # no temporary left


@pytest.mark.parametrize(
    "change",
    [
        {"format": 2},
        {"marker": "other.yaml"},
        {"commit": "--output=/tmp/x"},
        {"commit": C1.upper()},
        {"markers": {"a": "not a blob id"}},
        {"markers": {"a": B1[:-1]}},
        {"markers": {"a": B1[:-1], "b": B2 + "2"}},
        {"markers": {"a": B1 + B2[:24]}},  # a SHA-256 id in a SHA-1 repository
        {"markers": {"a": "AB" * 20}},
        {"markers": {"a": f"{B1[:20]}\n{B1[:19]}"}},
        {"markers": {"a": 1}},
        {"markers": ["a"]},
        {"mentions": [1]},
        {"mentions": ["x"]},
        {"mentions": B1},
    ],
)
def test_a_file_we_did_not_write_is_ignored(tmp_path: Path, change: dict[str, object]) -> None:
    path = tmp_path / "projects.json"
    good = {"format": 1, "marker": MARKER, "commit": C1, "markers": {"a": B1}, "mentions": []}
    path.write_text(json.dumps(good))
    assert snapshot.load(path) is not None
    path.write_text(json.dumps({**good, **change}))
    assert snapshot.load(path) is None


def test_missing_or_broken_files_are_ignored(tmp_path: Path) -> None:
    assert snapshot.load(tmp_path / "none.json") is None
    (tmp_path / "broken.json").write_bytes(b"\xff{")
    assert snapshot.load(tmp_path / "broken.json") is None


def test_an_unwritable_place_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    snapshot.save(tmp_path / "file" / "projects.json", snapshot.Projects(C1, {}, set()))
    assert snapshot.load(tmp_path / "file" / "projects.json") is None


def test_marker_path() -> None:
    assert snapshot.marker_path("") == MARKER
    assert snapshot.marker_path("a/b") == f"a/b/{MARKER}"


def test_holding_reads_the_work_tree_and_decodes_only_the_blobs_with_the_word(
    tmp_path: Path,
) -> None:
    from pipeline.monorepo import gitblobs

    contents = {
        "a/somlier.yaml": b"project:\n  depends_on: [x]\r\n",
        "b/somlier.yaml": b"project:\n  name: b\n",
        "c/somlier.yaml": b"project:\n  depends_on: [x]\r\n",  # the same blob as a's
        "d/somlier.yaml": b"# caf\xe9 depends_on\n",  # not UTF-8: the word is still there
    }
    files = {}
    for path, data in contents.items():
        (tmp_path / path).parent.mkdir()
        (tmp_path / path).write_bytes(data)
        files[path] = gitblobs.blob_id(data, 40)
    found = gitblobs.holding(tmp_path, files, "depends_on")  # all in the work tree: no git
    assert found == {
        files["a/somlier.yaml"]: gitblobs.Blob(
            "project:\n  depends_on: [x]\n", len(contents["a/somlier.yaml"])
        ),
        files["d/somlier.yaml"]: gitblobs.Blob(
            "# caf\ufffd depends_on\n", len(contents["d/somlier.yaml"])
        ),
    }
