"""``somlier online deploy`` without ``--use_k8s``: a real ``bentoml serve`` answering predictions
of a model registered in a real MLflow store (``registered_model``, tests/integration/models.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from pipeline.errors import StepFailed
from pipeline.online.bento import stage_bundle
from pipeline.online.model_ref import resolve_model
from pipeline.online.serve_local import HOST, LocalServer, free_port, post_json
from tests.integration.models import RegisteredModel

SOMLIER = [sys.executable, "-m", "pipeline"]


def child_env(model: RegisteredModel, tmp_path: Path) -> dict[str, str]:
    return {
        **model.env(),
        "BENTOML_HOME": str(tmp_path / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }


@pytest.fixture(scope="module")
def server(
    registered_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    work = tmp_path_factory.mktemp("serve")
    resolved = resolve_model(
        registered_model.model_name,
        registered_model.version,
        tracking_uri=registered_model.tracking_uri,
        dest=work / "download",
    )
    bundle = stage_bundle(resolved, work / "bundle", workers=1)
    local = LocalServer(
        bundle,
        port=free_port(),
        log_path=work / "bentoml.log",
        env=child_env(registered_model, work),
    )
    local.start()
    try:
        local.wait_ready()
        yield local
    finally:
        local.stop()


def predict(server: LocalServer, body: Any) -> Any:
    return post_json(HOST, server.port, "/predict", body)


def test_resolve_model_reads_flavour_signature_and_example(
    registered_model: RegisteredModel, tmp_path: Path
) -> None:
    resolved = resolve_model(
        registered_model.model_name,
        registered_model.version,
        tracking_uri=registered_model.tracking_uri,
        dest=tmp_path,
    )
    assert resolved.flavour == "sklearn"
    assert resolved.run_id == registered_model.run_id
    assert resolved.columns == registered_model.columns
    assert {c.type for c in resolved.inputs} == {"double"}
    assert resolved.input_example == registered_model.example_rows
    assert (resolved.path / "MLmodel").is_file()
    assert resolved.path.is_relative_to(tmp_path)


def test_served_model_answers_like_the_model(
    server: LocalServer, registered_model: RegisteredModel
) -> None:
    rows = [list(r) for r in registered_model.example_rows]
    expected = list(registered_model.expected)
    columns = list(registered_model.columns)
    assert predict(server, {"inputs": rows}) == {"predictions": expected}
    split = {"dataframe_split": {"columns": columns, "data": rows}}
    assert predict(server, split) == {"predictions": expected}
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    assert predict(server, {"dataframe_records": records}) == {"predictions": expected}


def test_concurrent_single_row_requests_each_get_their_own_answer(
    server: LocalServer, registered_model: RegisteredModel
) -> None:
    cases = list(zip(registered_model.example_rows, registered_model.expected, strict=True)) * 20
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda c: predict(server, {"inputs": [list(c[0])]}), cases))
    assert [a["predictions"] for a in answers] == [[want] for _, want in cases]


def test_bad_request_is_a_400_with_a_reason(server: LocalServer) -> None:
    with pytest.raises(StepFailed) as caught:
        predict(server, {"inputs": [[1.0, 2.0]]})
    _, _, detail = str(caught.value).partition(" answered 400: ")
    error = json.loads(detail)["error"]
    assert "4 values" in error and "sepal_length" in error


def test_stop_leaves_no_worker_behind(registered_model: RegisteredModel, tmp_path: Path) -> None:
    resolved = resolve_model(
        registered_model.model_name, "1", tracking_uri=registered_model.tracking_uri,
        dest=tmp_path / "d",
    )  # fmt: skip
    bundle = stage_bundle(resolved, tmp_path / "bundle", workers=1)
    local = LocalServer(
        bundle,
        port=free_port(),
        log_path=tmp_path / "log",
        env=child_env(registered_model, tmp_path),
    )
    local.start()
    assert local.child is not None
    try:
        local.wait_ready()
        family = [psutil.Process(local.child.pid), *psutil.Process(local.child.pid).children(True)]
        assert len(family) >= 2  # the arbiter and its worker
    finally:
        local.stop()
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_service_that_cannot_start_is_reported_with_its_log(
    registered_model: RegisteredModel, tmp_path: Path
) -> None:
    resolved = resolve_model(
        registered_model.model_name, "1", tracking_uri=registered_model.tracking_uri,
        dest=tmp_path / "d",
    )  # fmt: skip
    bundle = stage_bundle(resolved, tmp_path / "bundle", workers=1)
    (bundle.root / "service.py").write_text("raise SystemExit('model store is corrupt')\n")
    local = LocalServer(
        bundle,
        port=free_port(),
        log_path=tmp_path / "log",
        env=child_env(registered_model, tmp_path),
    )
    local.start()
    with pytest.raises(StepFailed) as caught:
        local.wait_ready(timeout=120)
    local.stop()
    assert "model store is corrupt" in str(caught.value)


def test_cli_once_prints_the_example_answer(
    registered_model: RegisteredModel, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*SOMLIER, "online", "deploy", registered_model.model_name, "1",
         "--once", "--port", "0", "--workers", "1", "--json"],
        env=child_env(registered_model, tmp_path), cwd=tmp_path,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == registered_model.model_name
    assert result["flavour"] == "sklearn"
    assert result["example_request"] == {"inputs": [list(registered_model.example_rows[0])]}
    assert result["answer"] == {"predictions": [registered_model.expected[0]]}
    assert not Path(result["bundle"]).exists()  # the temporary bundle is cleaned up


def test_cli_unknown_version_is_a_user_error(
    registered_model: RegisteredModel, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*SOMLIER, "online", "deploy", registered_model.model_name, "42", "--once"],
        env=child_env(registered_model, tmp_path), cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no version 42 of model 'iris-classifier'" in done.stderr
    assert "registered versions: 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_serves_until_ctrl_c_then_stops_everything(
    registered_model: RegisteredModel, tmp_path: Path
) -> None:
    port = free_port()
    child = subprocess.Popen(
        [*SOMLIER, "online", "deploy", registered_model.model_name, "1",
         "--port", str(port), "--workers", "1", "--bundle-dir", str(tmp_path / "bundle")],
        env=child_env(registered_model, tmp_path), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        lines = []
        for line in child.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("serving"):
                break
        assert any(line == f"url:     http://{HOST}:{port}/predict" for line in lines), lines
        answer = post_json(
            HOST, port, "/predict", {"inputs": [list(registered_model.example_rows[2])]}
        )
        assert answer == {"predictions": [registered_model.expected[2]]}
        family = psutil.Process(child.pid).children(recursive=True)
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 130
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(p.is_running() for p in family):
        time.sleep(0.2)
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    # the bundle was asked to be kept
    assert (tmp_path / "bundle" / "service.py").is_file()
    assert os.path.isdir(tmp_path / "bundle" / "model")
