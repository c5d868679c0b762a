"""The content of blobs: from ``git cat-file --batch`` through the text-mode seam, from the work
tree when a file there is that blob (its object id matches), or byte for byte through
``git archive`` when the text cannot say what the bytes were.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from pipeline import proc


class Blob(NamedTuple):
    text: str  # decoded, newlines translated
    size: int  # bytes in the repository

    @property
    def exact(self) -> bytes | None:
        """The blob's bytes, when the text is known to hold them exactly."""
        raw = self.text.encode("utf-8")
        # Decoding only replaces (U+FFFD) and newline translation only shrinks:
        # the same size and no U+FFFD mean the same bytes.
        return raw if len(raw) == self.size and "\ufffd" not in self.text else None


def parse_batch(text: str, nonce: str) -> dict[str, Blob]:
    """``git cat-file --batch='NONCE %(objectname) %(objectsize)'`` output → blob id → blob.

    Splitting on the random ``NONCE`` (rather than counting bytes) survives the newline
    translation and decoding of the text-mode seam; the size tells whether the text is exact.
    """
    blobs: dict[str, Blob] = {}
    chunks = ("\n" + text).split(f"\n{nonce} ")
    for index, chunk in enumerate(chunks[1:], start=1):
        header, _, body = chunk.partition("\n")
        if index == len(chunks) - 1 and body.endswith("\n"):
            body = body[:-1]
        sha, _, size = header.partition(" ")
        blobs[sha] = Blob(body, int(size))
    return blobs


def read_blobs(root: Path, blobs: Iterable[str]) -> dict[str, Blob]:
    """The text (and size) of each blob, read by one ``git cat-file --batch``."""
    wanted = sorted(set(blobs))
    if not wanted:
        return {}
    nonce = os.urandom(12).hex()  # what secrets.token_hex does, without importing secrets
    batch = ("cat-file", "--buffer", f"--batch={nonce} %(objectname) %(objectsize)")
    done = proc.run("git", *batch, cwd=root, stdin="\n".join(wanted) + "\n")
    return parse_batch(done.stdout, nonce)


def blob_id(data: bytes, length: int) -> str:
    """git's object id of a blob holding ``data`` (SHA-1, or SHA-256 for 64-digit ids)."""
    import hashlib  # only a full listing hashes: not imported by a run that reads stored projects

    digest = hashlib.sha256 if length == 64 else hashlib.sha1
    return digest(b"blob %d\0%s" % (len(data), data), usedforsecurity=False).hexdigest()


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = [os.read(fd, _CHUNK)]
        while len(chunks[-1]) == _CHUNK:  # rare: a somlier.yaml is small
            chunks.append(os.read(fd, _CHUNK))
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


# Small on purpose: os.read allocates the whole buffer first, and glibc serves 128 KiB or more
# with mmap, which made keeping 10,000 shrunk buffers six times slower than the reads.
_CHUNK = 1 << 14


def read_checked_out(root: Path, files: Mapping[str, str]) -> dict[str, Blob]:
    """Blobs (``files``: path → blob id) read from the work tree where a file there has exactly
    that content (its blob id matches); the rest are left out. Reading and hashing 10,000 small
    files takes about half the time ``git cat-file`` needs to hand them over a pipe."""
    found: dict[str, Blob] = {}
    top = os.fspath(root) + os.sep  # plain strings: pathlib costs more than the reads here
    for path, blob in files.items():
        data = _read(top + path)
        if data is not None and blob_id(data, len(blob)) == blob:
            found[blob] = Blob(_text(data), len(data))
    return found


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def holding(root: Path, files: Mapping[str, str], word: str) -> dict[str, Blob]:
    """The blobs of ``files`` (path → blob id) whose text holds ``word`` (ASCII), from the work
    tree where it holds them, else from git. The others are only hashed, not decoded: an ASCII
    word is in the text exactly when its bytes are in the blob."""
    needle = word.encode("ascii")
    found: dict[str, Blob] = {}
    seen: set[str] = set()
    top = os.fspath(root) + os.sep
    for path, blob in files.items():
        if blob in seen:
            continue
        data = _read(top + path)
        if data is None or blob_id(data, len(blob)) != blob:
            continue
        seen.add(blob)
        if needle in data:
            found[blob] = Blob(_text(data), len(data))
    rest = read_blobs(root, (b for b in files.values() if b not in seen))
    found.update((b, blob) for b, blob in rest.items() if word in blob.text)
    return found


def checked_out(root: Path, files: Mapping[str, str]) -> bool:
    """Whether the work tree holds each of ``files`` (path → blob id) byte for byte."""
    top = os.fspath(root) + os.sep
    for path, blob in files.items():
        data = _read(top + path)
        if data is None or blob_id(data, len(blob)) != blob:
            return False
    return True


def read(root: Path, files: Mapping[str, str]) -> dict[str, Blob]:
    """Blobs (``files``: path → blob id) from the work tree where it holds them, else from git."""
    found = read_checked_out(root, files)
    found.update(read_blobs(root, (b for b in files.values() if b not in found)))
    return found


def export(root: Path, rev: str, paths: Sequence[str], dest: Path) -> None:
    """Write ``paths`` as they are at ``rev`` under ``dest``, byte for byte (``git archive``)."""
    if not paths:
        return
    import tarfile  # here: the rare path (CRLF or non-UTF-8 files), and 5 ms to import

    archive = dest / ".export.tar"
    specs = [f":(literal){p}" for p in paths]
    proc.run("git", "archive", "--format=tar", f"--output={archive}", rev, "--", *specs, cwd=root)
    with tarfile.open(archive) as tar:
        for member in tar:
            relative = PurePosixPath(member.name)
            data = tar.extractfile(member) if member.isfile() else None
            if data is None or relative.is_absolute() or ".." in relative.parts:
                continue
            target = dest.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read())
    archive.unlink()
