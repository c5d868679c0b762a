"""Rendering: the one Jinja environment, its quoting filters, and the checks of its output."""

from __future__ import annotations

from pipeline.render.environment import environment, render
from pipeline.render.literals import Quoted, pyrepr, yaml_scalar

__all__ = ["Quoted", "environment", "pyrepr", "render", "yaml_scalar"]
