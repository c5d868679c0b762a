"""The one failure of the forge adapters (:mod:`pipeline.forge.github`,
:mod:`pipeline.forge.pulls`): GitHub refused or failed a request."""

from __future__ import annotations

from pipeline.errors import StepFailed


class ForgeError(StepFailed):
    """GitHub refused or failed a request."""
