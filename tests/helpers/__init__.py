"""Helpers shared by the unit and integration tests (as pre-commit's ``testing/`` package): test
data, real git repositories, the GitHub fake's mirroring of pushes. No tests here; no test module
imports another test module."""
