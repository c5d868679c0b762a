"""Pure parsers of the git output a publish reads, and the redaction of its errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from pipeline.gitops.proposal import Entry

# Reasons git gives for refusing a ref update that a fresh fetch and a retry can fix.
_RETRYABLE = (
    "stale info",  # --force-with-lease: the branch moved since we looked
    "fetch first",
    "non-fast-forward",
    "failed to update ref",  # two pushes to one ref at once, on the server
    "cannot lock ref",
    "failed to lock",
    "incorrect old value",
    "already exists",
)


@dataclass(frozen=True)
class Remote:
    """What ``git ls-remote --symref`` says: the default branch and the refs asked for."""

    head: str | None  # the branch HEAD points to, e.g. "main"
    refs: dict[str, str]  # full ref name -> object id


def parse_ls_remote(text: str) -> Remote:
    head: str | None = None
    refs: dict[str, str] = {}
    for line in text.splitlines():
        left, tab, name = line.partition("\t")
        if not tab:
            continue
        if left.startswith("ref: "):
            target = left[len("ref: ") :]
            if name == "HEAD" and target.startswith("refs/heads/"):
                head = target[len("refs/heads/") :]
        else:
            refs[name] = left
    if head is not None and "HEAD" in refs:  # HEAD's id is its branch's id
        refs.setdefault(f"refs/heads/{head}", refs["HEAD"])
    return Remote(head, refs)


def parse_ls_tree(text: str, folder: str) -> dict[str, Entry]:
    """``git ls-tree -r -z REV -- FOLDER/`` → {path inside FOLDER: entry}."""
    prefix = folder.rstrip("/") + "/"
    tree: dict[str, Entry] = {}
    for record in text.split("\0"):
        meta, tab, path = record.partition("\t")
        if not tab or not path.startswith(prefix):
            continue
        mode, _, oid = meta.split(" ")
        tree[path[len(prefix) :]] = Entry(mode, oid)
    return tree


PushState = Literal["ok", "conflict", "refused"]


@dataclass(frozen=True)
class Push:
    state: PushState
    reason: str = ""


def parse_push(stdout: str, ref: str) -> Push:
    """The fate of ``ref`` in ``git push --porcelain`` output.

    A line is ``FLAG\\tFROM:TO\\tSUMMARY (REASON)``; ``!`` is a refusal. A refusal a retry can
    fix (the lease or fast-forward check, a ref locked by a concurrent push) is a conflict.
    """
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[1].endswith(":" + ref):
            continue
        flag, summary = parts[0], parts[2]
        if flag != "!":
            return Push("ok")
        if any(reason in summary for reason in _RETRYABLE):
            return Push("conflict", summary)
        return Push("refused", summary)
    return Push("refused", "git reported nothing about the branch")


class Redactor:
    """Replaces a token, in every form git or an HTTP library could print it, with ``***``."""

    def __init__(self, token: str | None) -> None:
        forms: set[str] = set()
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            forms = {token, quote(token, safe=""), basic, basic.rstrip("=")}
        self._forms = sorted((f for f in forms if f), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "***")
        return text


def auth_header(token: str) -> str:
    """The header GitHub accepts for git over HTTPS with an installation or personal token
    (what actions/checkout sets)."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"Authorization: Basic {basic}"
