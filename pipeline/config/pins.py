"""Settings pinned for a monorepo root: within :func:`pinned`, every reader of the settings of
that root (``load_settings``, change detection's global paths, the variables a somlier.yaml may
read) gets the pinned ones, whatever the root's file says. A pull request's run pins its
checkout to the settings of the branch it goes into (:mod:`pipeline.config.settings_at`): the
file in the checkout is the PR's own edit. Kept apart from :mod:`pipeline.config.settings` so
that the readers on the start-up path (``pipeline changed``) pay nothing for it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config.settings import PlatformSettings

_PINNED: dict[Path, PlatformSettings] = {}


@contextlib.contextmanager
def pinned(root: Path, settings: PlatformSettings) -> Iterator[None]:
    """Within the block, the settings of the monorepo at ``root`` are ``settings``."""
    key = root.resolve()
    before = _PINNED.get(key)
    _PINNED[key] = settings
    try:
        yield
    finally:
        if before is None:
            _PINNED.pop(key, None)
        else:
            _PINNED[key] = before


def pinned_for(root: Path | None) -> PlatformSettings | None:
    """The settings pinned for ``root`` (:func:`pinned`), if any."""
    if not _PINNED or root is None:
        return None
    return _PINNED.get(root.resolve())
