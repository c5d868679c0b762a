"""The monorepo: where projects are, and which of them a change touches."""
