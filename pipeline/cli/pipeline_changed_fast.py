"""``somlier pipeline changed``: its options read from a command line without click, and the
step itself, shared by both ways in (this fast path and the click command in
:mod:`pipeline.cli.pipeline_cmd`).

:func:`parse` accepts only what it can read exactly as click reads it (``--base REF`` or
``--base=REF``, ``--head``, ``--json``, ``--matrix``, ``--max-jobs N``, ``-C DIR`` / ``--repo
DIR``, the last of a repeated option winning) and returns None for anything else, which then
goes to click: help, usage errors and their wording stay click's. A test checks that both read
every accepted command line alike.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

from pipeline.monorepo import changed, detect

_VALUED = {
    "--base": "base",
    "--head": "head",
    "--repo": "repo",
    "-C": "repo",
    "--max-jobs": "max_jobs",
}
_FLAGS = {"--json": "as_json", "--matrix": "matrix"}


class Options(NamedTuple):
    base: str
    head: str = "HEAD"
    as_json: bool = False
    matrix: bool = False
    repo: Path | None = None
    max_jobs: int = 256  # --matrix: at most this many jobs (GitHub's limit)


def parse(args: list[str]) -> Options | None:
    """The options of ``somlier pipeline changed ARGS``, or None to leave ``args`` to click."""
    valued: dict[str, str] = {}
    flags: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in _FLAGS:
            flags.add(_FLAGS[arg])
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in _VALUED:
            return None
        if not eq:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if not value or value.startswith("-"):  # click's reading of these is its own
            return None
        valued[_VALUED[name]] = value
    if "base" not in valued or flags == {"as_json", "matrix"}:
        return None
    jobs = valued.get("max_jobs", "256")
    if not (jobs.isascii() and jobs.isdigit() and int(jobs) >= 1):
        return None  # click's message, in its words
    repo = Path(valued["repo"]) if "repo" in valued else None
    if repo is not None and repo.exists() and not repo.is_dir():
        return None  # click refuses a file for DIR, in its words
    return Options(
        valued["base"],
        valued.get("head", "HEAD"),
        as_json="as_json" in flags,
        matrix="matrix" in flags,
        repo=repo,
        max_jobs=int(jobs),
    )


def run(options: Options) -> int:
    """Detect the changes and print them: ``--json``, ``--matrix``, or a line per project with a
    summary on stderr. Exit 0; failures raise (:mod:`pipeline.cli.entry` reports them)."""
    import json

    found = detect.detect(options.repo or Path.cwd(), options.base, options.head, os.environ)
    if options.as_json:
        text = json.dumps(changed.as_json(found), indent=2)
    elif options.matrix:
        text = json.dumps(changed.as_matrix(found, options.max_jobs), separators=(",", ":"))
    else:
        text = "\n".join(changed.as_text(found))
    if text:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()
    if not (options.as_json or options.matrix):
        print(changed.summary(found), file=sys.stderr)
    return 0
