"""A tree of files written in one call (copier's ``build_file_tree``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

WriteTree = Callable[[Path, Mapping[str, "str | bytes"]], Path]


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``files`` (relative path → text as UTF-8, or bytes as they are) under ``root``;
    return ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root
