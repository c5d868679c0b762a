"""The platform settings as committed at a revision: what a pull request's own checks read.

``.somlier/platform.yaml`` is trusted: it names the secrets and may read any variable of the
runner. A pull request's checkout holds the pull request's edit of it, so the image step of a
pull request reads the file of the branch it goes into (the event's base commit), never the
edit under review: a PR cannot point pushes, reports or ``${VAR}`` reads somewhere else for its
own run. The edit takes effect once it is merged.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from pipeline.config.settings import FILENAME, PlatformSettings
from pipeline.config.settings_load import load_settings
from pipeline.errors import ConfigError, Diagnostic, UserError


def load_settings_at(root: Path, revision: str, environ: Mapping[str, str]) -> PlatformSettings:
    """The settings of the repository at ``root`` as committed at ``revision`` (defaults and
    the environment's overrides when that commit has no settings file). Git runs in ``root``;
    errors name the file as ``.somlier/platform.yaml at <revision>``."""
    from pipeline import proc

    name = FILENAME.as_posix()
    commit = proc.run(
        "git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", cwd=root, check=False
    )
    if commit.returncode != 0:
        raise UserError(
            f"unknown revision {revision!r}: the platform settings of a pull request are read "
            "from its base commit",
            hint="fetch the base commit (actions/checkout with fetch-depth: 0)",
        )
    sha = commit.stdout.strip()
    blob = proc.run("git", "cat-file", "blob", f"{sha}:{name}", cwd=root, check=False)
    if blob.returncode != 0:
        return load_settings(None, environ)
    shown = f"{name} at {sha[:12]}"
    with tempfile.TemporaryDirectory(prefix="somlier-settings-") as scratch:
        target = Path(scratch) / FILENAME
        target.parent.mkdir(parents=True)
        target.write_text(blob.stdout, encoding="utf-8")
        try:
            return load_settings(Path(scratch), environ)
        except ConfigError as exc:
            raise ConfigError(
                [Diagnostic(shown, *d[1:]) if d.path == str(target) else d for d in exc.diagnostics]
            ) from None
