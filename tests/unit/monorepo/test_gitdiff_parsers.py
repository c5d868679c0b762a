"""The pure parsers of git's output (the commands themselves run in tests/integration)."""

from __future__ import annotations

from pipeline.monorepo import gitblobs, gitdiff
from pipeline.monorepo.changes import Change

Z40 = "0" * 40
B1, B2, B3 = "1" * 40, "2" * 40, "3" * 40


def test_parse_raw_diff() -> None:
    text = "\0".join(
        [
            f":100644 100644 {B1} {B2} M",
            "p/x.py",
            f":000000 100644 {Z40} {B2} A",
            "p/new file.py",
            f":100644 000000 {B1} {Z40} D",
            "q/somlier.yaml",
            f":100644 100644 {B1} {B3} R087",
            "a/u.py",
            "b/u.py",
            f":100644 100644 {B1} {B1} C100",
            "a/v.py",
            "c/v.py",
            f":120000 100644 {B1} {B2} T",
            "link",
            "",
        ]
    )
    entries = gitdiff.parse_raw_diff(text)
    assert [e.change for e in entries] == [
        Change("M", "p/x.py", "p/x.py"),
        Change("A", None, "p/new file.py"),
        Change("D", "q/somlier.yaml", None),
        Change("R", "a/u.py", "b/u.py"),
        Change("A", None, "c/v.py"),
        Change("T", "link", "link"),
    ]
    assert (entries[0].old_blob, entries[0].new_blob) == (B1, B2)
    assert (entries[1].old_blob, entries[1].new_blob) == (None, B2)
    assert (entries[2].old_blob, entries[2].new_blob) == (B1, None)
    assert (entries[3].old_blob, entries[3].new_blob) == (B1, B3)
    assert gitdiff.parse_raw_diff("") == []


def test_parse_markers_from_ls_tree() -> None:
    text = "\0".join(
        [
            f"100644 blob {B1}\tsomlier.yaml",
            f"100644 blob {B2}\tprojects/a/somlier.yaml",
            f"100644 blob {B3}\tprojects/a/main.py",
            f"160000 commit {B3}\tvendor/somlier.yaml",
            f"100644 blob {B3}\tprojects/b/not-somlier.yaml",
            "",
        ]
    )
    assert gitdiff.parse_markers(text) == {"": B1, "projects/a": B2}


def test_parse_markers_from_ls_files() -> None:
    text = "\0".join(
        [
            f"100644 {B1} 0\tprojects/a/somlier.yaml",
            f"100755 {B2} 0\tprojects/b/somlier.yaml",
            f"100644 {B3} 2\tprojects/c/somlier.yaml",
            f"160000 {B3} 0\tprojects/d/somlier.yaml",
        ]
    )
    assert gitdiff.parse_markers(text, index=True) == {"projects/a": B1, "projects/b": B2}


def test_parse_batch_splits_on_the_nonce() -> None:
    nonce = "n0nce"
    text = f"{nonce} {B1} 12\nproject:\n  a\n\n{nonce} {B2} 0\n\n{nonce} {B3} 9\nno {nonce}\n\n"
    blobs = gitblobs.parse_batch(text, nonce)
    assert blobs == {
        B1: gitblobs.Blob("project:\n  a\n", 12),
        B2: gitblobs.Blob("", 0),
        B3: gitblobs.Blob(f"no {nonce}\n", 9),
    }


def test_blob_exact_only_when_the_bytes_are_known() -> None:
    assert gitblobs.Blob("a: b\n", 5).exact == b"a: b\n"
    assert gitblobs.Blob("a: b\n", 6).exact is None  # newlines were translated
    assert gitblobs.Blob("a: \ufffd\n", 6).exact is None  # bytes were replaced


def test_blob_id_is_gits() -> None:
    # git hash-object of "hello\n"
    assert gitblobs.blob_id(b"hello\n", 40) == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert len(gitblobs.blob_id(b"hello\n", 64)) == 64
