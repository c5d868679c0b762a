"""The pod contract (pipeline/offline/pod.py): what the operator runs, and the rules both sides
apply."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.offline import pod

OPERATOR = Path(__file__).resolve().parents[3] / "dag_templates/operators/mlops_offline_operator.py"


def _operator_constant(name: str) -> object:
    tree = ast.parse(OPERATOR.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned in {OPERATOR}")


def test_the_operator_runs_the_command_somlier_checks() -> None:
    """The operator lives in the dags repository and cannot import somlier: one constant each,
    kept equal here."""
    assert _operator_constant("POD_COMMAND") == pod.POD_COMMAND == ("somlier", "config")
    assert _operator_constant("GPU_RESOURCE") == pod.GPU_RESOURCE
    tree = ast.parse(OPERATOR.read_text(encoding="utf-8"))
    cmds = [k for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "cmds"]
    assert [ast.unparse(k.value) for k in cmds] == ["list(POD_COMMAND)"]


@pytest.mark.parametrize(
    "args",
    [["run", "main"], ["run", "main", "--date", "2024-01-01"], ["run", "serve.local", "x y"]],
)
def test_run_name_passes(args: list[str]) -> None:
    assert pod.command_problems(pod.POD_COMMAND, args) == []


def test_a_pod_on_the_image_entrypoint_is_a_stale_operator() -> None:
    [problem] = pod.command_problems((), ["run", "main"])
    assert problem.code == "pod-command" and "somlier dags init" in problem.hint


@pytest.mark.parametrize(
    ("count", "limit", "selector", "codes"),
    [
        (0, None, {}, []),
        (2, "2", {"a": "b"}, []),
        (2, "1", {"a": "b"}, ["gpu-limit"]),
        (0, "1", {}, ["gpu-limit"]),
        (2, "2", {}, ["gpu-node-selector"]),
        (1, None, {}, ["gpu-limit", "gpu-node-selector"]),
    ],
)
def test_gpu_rules(
    count: int, limit: str | None, selector: dict[str, str], codes: list[str]
) -> None:
    found = pod.gpu_problems(
        gpu_type="nvidia-tesla-t4", num_of_gpus=count, gpu_limit=limit, node_selector=selector
    )
    assert [p.code for p in found] == codes
