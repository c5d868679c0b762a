"""The one Jinja environment of somlier.

Templates are package data (``dag_templates/``, ``deploy_templates/``) and are named with their
folder: ``render("dag_templates/default.py.j2", spec=...)``. The environment is sandboxed, has
no autoescaping (it writes Python and YAML, not HTML), fails on any undefined name, keeps a
template's final newline, and lets no value into the output unless a quoting filter
(``|pyrepr``) produced it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from pipeline import resources
from pipeline.render.literals import Quoted, pyrepr

# The data folders a template name may start with.
FOLDERS = ("dag_templates", "deploy_templates")


class _DataLoader(jinja2.BaseLoader):
    """``FOLDER/NAME`` from :func:`pipeline.resources.data_dir`, resolved on first use (so a
    missing ``deploy_templates`` does not break DAG rendering)."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        folder, _, rest = template.partition("/")
        if folder not in FOLDERS or not rest:
            raise jinja2.TemplateNotFound(template)
        loader = jinja2.FileSystemLoader(resources.data_dir(folder), encoding="utf-8")
        return loader.get_source(environment, rest)


def _finalize(value: Any) -> str:
    if isinstance(value, Quoted):
        return str(value)
    raise TypeError(
        f"template output {value!r:.80} was not quoted: pass every value through |pyrepr"
    )


def _pyrepr(value: Any) -> Quoted:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined: raises UndefinedError, naming the missing variable
    return pyrepr(value)


@functools.cache
def environment() -> jinja2.Environment:
    env = SandboxedEnvironment(
        loader=_DataLoader(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        auto_reload=False,
    )
    env.filters["pyrepr"] = _pyrepr
    return env


def render(template_name: str, **context: Any) -> str:
    """Render ``FOLDER/NAME`` (e.g. ``dag_templates/mlops.py.j2``) with ``context``."""
    return environment().get_template(template_name).render(**context)
