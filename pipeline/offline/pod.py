"""What the pod of a batch job must be: the one rule set that ``offline create``, ``offline
render`` and ``validate`` apply to a job before its DAG is written, and that ``somlier dags
check`` applies to the pod Airflow builds from the DAG file.

The contract between the image and the DAG: the pod's container runs ``somlier config``
(:data:`POD_COMMAND`, set as the container's ``command``, so the image's own ``ENTRYPOINT``
does not matter) with the DAG's ``command`` as its ``args``. ``command=["run", "main"]`` runs
``somlier config run main``: the project's entrypoint ``main``, in the image's working folder
(the project). The operator (``dag_templates/operators/mlops_offline_operator.py``, copied
into the dags repository) holds the same list; a unit test keeps the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

POD_COMMAND: tuple[str, ...] = ("somlier", "config")
RUN = "run"
GPU_RESOURCE = "nvidia.com/gpu"
# somlier.yaml's entrypoint names (schemas/somlier.schema.json, "entrypoints" keys).
_ENTRYPOINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
WHY = 'a batch job runs "somlier config COMMAND" in the project\'s image'


@dataclass(frozen=True)
class Problem:
    """One broken rule; ``code`` is stable (``dags check`` reports it), ``field`` names the
    value of the job at fault (``command``, ``gpu``, ``gpu.type``)."""

    code: str
    field: str
    message: str
    hint: str = ""


def command_problems(command: Sequence[str], args: Sequence[str]) -> list[Problem]:
    """The container's ``command`` and ``args`` against the contract."""
    if tuple(command) != POD_COMMAND:
        shown = " ".join(command) if command else "the image's ENTRYPOINT"
        return [
            Problem(
                "pod-command",
                "command",
                f"its pod runs {shown} with {list(args)}, not {' '.join(POD_COMMAND)}",
                "update the operators package of the dags repository: somlier dags init",
            )
        ]
    if len(args) < 2 or args[0] != RUN or not _ENTRYPOINT.fullmatch(args[1]):
        close = len(args) == 1 and args[0] != RUN and _ENTRYPOINT.fullmatch(args[0])
        write = f'"run {args[0]}"' if close else '"run NAME [ARGS…]", e.g. "run main"'
        return [
            Problem(
                "pod-command",
                "command",
                f"command {' '.join(args)!r} is not 'run NAME [ARGS…]': its pod would run "
                f"{' '.join((*POD_COMMAND, *args))!r}",
                f"write {write}: {WHY}",
            )
        ]
    return []


def gpu_problems(
    *,
    gpu_type: str | None,
    num_of_gpus: int,
    gpu_limit: str | None,
    node_selector: Mapping[str, str],
) -> list[Problem]:
    """A GPU request against the pod: its ``nvidia.com/gpu`` limit is the count, and it has a
    node selector (else it waits forever for a GPU node, or lands on one of another type)."""
    found: list[Problem] = []
    if num_of_gpus > 0 and gpu_limit != str(num_of_gpus):
        has = f"a limit of {gpu_limit}" if gpu_limit else "no limit"
        message = f"asks for {num_of_gpus} GPU(s), its pod has {has} on {GPU_RESOURCE}"
        found.append(Problem("gpu-limit", "gpu", message))
    elif num_of_gpus == 0 and gpu_limit not in (None, "0"):
        message = f"asks for no GPU, its pod has a limit of {gpu_limit} {GPU_RESOURCE}"
        found.append(Problem("gpu-limit", "gpu", message))
    if num_of_gpus > 0 and not node_selector:
        found.append(
            Problem(
                "gpu-node-selector",
                "gpu.type",
                f"asks for {num_of_gpus} GPU(s) ({gpu_type or 'no gpu_type'}) but its pod has no "
                "node selector: it may wait forever for a GPU node, or land on a node without "
                "the GPU type",
                f"give {gpu_type or 'the GPU type'} its node labels under gpu_types in "
                ".somlier/platform.yaml (docs/platform.md)",
            )
        )
    return found


def gpu_limit_of(num_of_gpus: int) -> str | None:
    """The ``nvidia.com/gpu`` limit the operator sets for ``num_of_gpus``."""
    return str(num_of_gpus) if num_of_gpus > 0 else None
