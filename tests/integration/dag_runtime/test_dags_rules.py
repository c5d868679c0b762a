"""The pure half of ``somlier dags check``: reading the probe's report, judging it, locating
lines. No Airflow here (these run in somlier's own environment, in milliseconds)."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from pipeline.dags import facts, rules
from pipeline.dags.source import (
    SourceIndex,
    Sources,
    error_location,
    exception_line,
    traceback_location,
)


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("reg/ml/p:sha-abc1234", "sha-abc1234"),
        ("reg.example.com:5000/ml/p:latest", "latest"),
        ("reg.example.com:5000/ml/p", None),
        ("p", None),
        ("p:", None),
        ("reg/ml/p@sha256:" + "0" * 64, "@digest"),
        ("reg/ml/p:v1@sha256:" + "0" * 64, "@digest"),
    ],
)
def test_image_tag(image: str, tag: str | None) -> None:
    assert rules.image_tag(image) == tag


def _traceback_of(source: str, path: str) -> str:
    try:
        exec(compile(source, path, "exec"), {})
    except Exception:
        return traceback.format_exc()
    raise AssertionError("no exception")


def test_exception_line_and_location_from_real_tracebacks(tmp_path: Path) -> None:
    path = str(tmp_path / "dag.py")
    text = _traceback_of("def f():\n    raise ValueError('bad\\nsecond line')\n\nf()\n", path)
    assert exception_line(text) == "ValueError: bad"
    assert traceback_location(text, path).line == 2  # the innermost frame in the file

    chained = _traceback_of(
        "try:\n    {}['k']\nexcept KeyError:\n    raise RuntimeError('while looking')\n", path
    )
    assert "During handling" in chained
    assert exception_line(chained) == "RuntimeError: while looking"
    assert traceback_location(chained, path).line == 4

    assert traceback_location(text, str(tmp_path / "other.py")).line == 0
    assert exception_line("AirflowDagCycleException: Cycle detected\nmore") == (
        "AirflowDagCycleException: Cycle detected"
    )
    assert exception_line("") == "unknown error"


def test_syntax_errors_are_located_by_compiling_the_source() -> None:
    source = "import airflow\n\nx = (1,\n"
    text = (
        "Traceback (most recent call last):\n"
        '  File "/d/x.py", line 3\n'
        "SyntaxError: '(' was never closed\n"
    )
    where = error_location(text, "/d/x.py", source)
    assert (where.line, where.col) == (3, 5)
    assert error_location(text, "/d/x.py", None).line == 3  # the file is gone: the traceback's


def test_source_index_finds_literal_ids_only() -> None:
    index = SourceIndex.of(
        "from airflow import DAG\n"
        "with DAG(\n    dag_id='a',\n) as d:\n"
        "    Op(task_id='t1')\n"
        "    Op(task_id=name)\n"
        "DAG('b')\n"
    )
    assert index.dags == {"a": 2, "b": 7}
    assert index.tasks == {"t1": 5}
    assert SourceIndex.of("def (:") == SourceIndex({}, {})


def _report(**task: object) -> facts.ProbeReport:
    pod: dict[str, object] | None = {
        "name": "p-1",
        "namespace": "mlops",
        "image": "r/p:sha-1",
        "command": ["somlier", "config"],
        "args": ["run", "main"],
        "limits": {},
        "node_selector": {},
        "containers": 1,
    }
    override = task.pop("pod", {})
    if override is None:
        pod = None
    else:
        pod.update(override)  # type: ignore[union-attr,call-overload]
    data = {
        "task_id": "run",
        "class": "operators.mlops_offline_operator.MLOpsOfflineOperator",
        "file": "/repo/dags/x.py",
        "mlops": True,
        "image": "r/p:sha-1",
        "num_of_gpus": 0,
        "gpu_type": None,
        "pod": pod,
        "pod_error": None,
        **task,
    }
    return facts.from_json(
        {
            "format": facts.FORMAT,
            "dag_folder": "/repo/dags",
            "files": ["/repo/dags/x.py"],
            "dags": [{"dag_id": "x", "file": "/repo/dags/x.py", "tasks": [data]}],
            "duplicates": [],
            "import_errors": [],
        }
    )


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({}, []),
        (
            {
                "num_of_gpus": 1,
                "pod": {"limits": {"nvidia.com/gpu": "1"}, "node_selector": {"a": "b"}},
            },
            [],
        ),
        (
            {
                "num_of_gpus": 2,
                "pod": {"limits": {"nvidia.com/gpu": "1"}, "node_selector": {"a": "b"}},
            },
            [
                (
                    "gpu-limit",
                    "task 'run': asks for 2 GPU(s), its pod has a limit of 1 on nvidia.com/gpu",
                )
            ],
        ),
        (
            {"pod": {"limits": {"nvidia.com/gpu": "1"}}},
            [("gpu-limit", "task 'run': asks for no GPU, its pod has a limit of 1 nvidia.com/gpu")],
        ),
        (
            {"pod": {"command": [], "args": ["run", "main"]}},
            [
                (
                    "pod-command",
                    "task 'run': its pod runs the image's ENTRYPOINT with ['run', 'main'], not "
                    "somlier config (update the operators package of the dags repository: "
                    "somlier dags init)",
                )
            ],
        ),
        (
            {"pod": {"args": ["main"]}},
            [
                (
                    "pod-command",
                    "task 'run': command 'main' is not 'run NAME [ARGS…]': its pod would run "
                    '\'somlier config main\' (write "run main": a batch job runs "somlier '
                    "config COMMAND\" in the project's image)",
                )
            ],
        ),
        (
            {
                "num_of_gpus": 2,
                "gpu_type": "nvidia-tesla-p100",
                "pod": {"limits": {"nvidia.com/gpu": "2"}},
            },
            [
                (
                    "gpu-node-selector",
                    "task 'run': asks for 2 GPU(s) (nvidia-tesla-p100) but its pod has no node "
                    "selector: it may wait forever for a GPU node, or land on a node without the "
                    "GPU type",
                )
            ],
        ),
        (
            {
                "pod": None,
                "pod_error": 'Traceback (most recent call last):\n  File "x"\nValueError: no\n',
            },
            [("pod-error", "task 'run': its pod cannot be built: ValueError: no")],
        ),
        (
            {"mlops": False, "image": "r/p", "pod": None},
            [
                (
                    "image-untagged",
                    "task 'run' runs image 'r/p' without a tag (so 'latest')" + rules._PIN,
                )
            ],
        ),
    ],
)
def test_task_rules(task: dict[str, object], expected: list[tuple[str, str]]) -> None:
    found = rules.check(_report(**task), Sources())
    assert [(f.code, f.message) for f in found] == expected
    assert all(f.severity == ("warning" if f.code.startswith("image") else "error") for f in found)


def test_finding_format() -> None:
    finding = rules.Finding("/r/x.py", 3, 0, "error", "import-error", "boom")
    assert finding.format("x.py") == "x.py:3: error: boom"
    assert (
        rules.Finding("/r/x.py", 3, 7, "warning", "c", "m").format("x.py") == "x.py:3:7: warning: m"
    )
    assert rules.Finding("/r", 0, 0, "warning", "no-dags", "m").format("r") == "r: warning: m"


def test_a_report_in_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        facts.from_json({"format": 99})
