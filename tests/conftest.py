"""Plugins for the whole suite: the real services (Docker engine, registry) as fixtures."""

pytest_plugins = ["tests.integration.services", "tests.integration.models"]
