"""Render a :class:`DagSpec` into a DAG file (checked by :mod:`pipeline.offline.readback`)."""

from __future__ import annotations

from pipeline.offline import contract
from pipeline.offline.readback import DagCheckError, check_dag
from pipeline.offline.spec import DagSpec

__all__ = ["DagCheckError", "check_dag", "render_dag"]


def render_dag(spec: DagSpec) -> str:
    """The DAG file of ``spec``, checked. A file that fails its check is a bug in somlier
    (the spec was valid), so it raises :class:`RuntimeError`, not a user error."""
    from pipeline.render import render

    args = contract.operator_arguments(spec)
    source = render(
        f"dag_templates/{spec.template}.py.j2",
        spec=spec,
        node_selector=args["node_selector"],
        tolerations=args["tolerations"],
    )
    try:
        check_dag(source, spec)
    except DagCheckError as exc:
        raise RuntimeError(
            f"the rendered DAG {spec.dag_id} failed its check:\n{exc.render()}"
        ) from exc
    return source
