"""Where a monorepo's platform settings are: the folders found by walking up from a start,
without starting git (``validate`` stays fast; images, which ``config run`` runs in, have none).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config.settings import FILENAME


def platform_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` up holding ``.somlier/platform.yaml``, not leaving the
    git work tree; found without starting git, so ``validate`` stays fast."""
    for folder in (start, *start.parents):
        if (folder / FILENAME).is_file():
            return folder
        if (folder / ".git").exists():
            return None
    return None


def checkout_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` up that holds ``.somlier/platform.yaml`` or ``.git``,
    found without starting git: ``config run`` uses it inside images, which have no git."""
    for folder in (start, *start.parents):
        if (folder / FILENAME).is_file() or (folder / ".git").exists():
            return folder
    return None
