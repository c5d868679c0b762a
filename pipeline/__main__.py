"""``python -m pipeline`` is ``somlier``."""

from pipeline.cli.entry import entry

entry()
