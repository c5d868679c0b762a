"""``python -m pipeline`` is ``somlier``."""

from pipeline.cli.main import entry

entry()
