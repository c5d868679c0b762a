"""The ``somlier`` command line: one module per command group; parse, call the core, print."""
