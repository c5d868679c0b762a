"""The generated service's request parsing and adaptive batching, run in-process on a fake model
(the real ``bentoml serve`` path is tests/integration/test_serve_local.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from pipeline.online.bento import render_service
from pipeline.online.model_ref import Column, ResolvedModel

COLUMNS = ("a", "b", "c")


def load_service(tmp_path: Path, **changes: Any) -> ModuleType:
    values: dict[str, Any] = {
        "name": "m",
        "version": "1",
        "run_id": "r",
        "flavour": "sklearn",
        "path": tmp_path,
        "inputs": tuple(Column(c, "double") for c in COLUMNS),
        "outputs": (),
        "input_example": (),
    }
    values.update(changes)
    path = tmp_path / f"service_{len(list(tmp_path.iterdir()))}.py"
    path.write_text(render_service(ResolvedModel(**values)))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SumModel:
    """predict(rows) = row sums; records the size of every batch it was called with."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, rows: Any) -> Any:
        self.batches.append(len(rows))
        if hasattr(rows, "to_numpy"):
            rows = rows.to_numpy()
        return np.asarray(rows, dtype=float).sum(axis=1)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_service(tmp_path_factory.mktemp("svc"))


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [[1, 2, 3], [4, 5, 6]]},
        {"dataframe_split": {"columns": ["c", "a", "b"], "data": [[3, 1, 2], [6, 4, 5]]}},
        {"dataframe_records": [{"b": 2, "a": 1, "c": 3}, {"c": 6, "b": 5, "a": 4}]},
    ],
)
def test_every_mlflow_request_shape_gives_rows_in_signature_order(
    service: ModuleType, body: dict[str, Any]
) -> None:
    rows = service.rows_of(json.loads(json.dumps(body)))
    assert rows.dtype == np.float64
    assert rows.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_a_single_flat_row_is_one_row(service: ModuleType) -> None:
    assert service.rows_of({"inputs": [1, 2, 3]}).tolist() == [[1, 2, 3]]
    assert service.rows_of({"inputs": {"c": 3, "a": 1, "b": 2}}).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([1, 2, 3], "JSON object"),
        ({"rows": []}, '"inputs"'),
        ({"inputs": []}, "no rows"),
        ({"inputs": [[1, 2]]}, "3 values: a, b, c"),
    ],
)
def test_bad_requests_say_what_is_expected(service: ModuleType, body: Any, error: str) -> None:
    with pytest.raises(service.BadRequest) as caught:
        service.rows_of(body)
    assert error in str(caught.value)


def test_concurrent_requests_are_merged_and_answered_in_order(service: ModuleType) -> None:
    fake = SumModel()
    batcher = service.Batcher(fake)

    async def many() -> list[Any]:
        requests = [np.asarray([[i, i, i]], dtype=float) for i in range(20)]
        requests.append(np.asarray([[1, 1, 1], [2, 2, 2]], dtype=float))
        return await asyncio.gather(*(batcher(r) for r in requests))

    answers = asyncio.run(many())
    assert [a.tolist() for a in answers[:20]] == [[3.0 * i] for i in range(20)]
    assert answers[20].tolist() == [3.0, 6.0]
    assert sum(fake.batches) == 22
    assert len(fake.batches) < 21  # merged: fewer model calls than requests
    assert not batcher.pending and not batcher.scheduled


def test_batches_never_exceed_the_maximum(service: ModuleType) -> None:
    fake = SumModel()
    batcher = service.Batcher(fake)
    limit = service.MAX_BATCH_SIZE

    async def flood() -> list[Any]:
        rows = np.ones((limit // 2 + 1, 3))
        return await asyncio.gather(*(batcher(rows) for _ in range(5)))

    assert len(asyncio.run(flood())) == 5
    assert max(fake.batches) <= limit
    assert sum(fake.batches) == 5 * (limit // 2 + 1)


def test_a_failing_model_fails_its_requests_and_the_next_batch_runs(service: ModuleType) -> None:
    class Flaky(SumModel):
        def predict(self, rows: Any) -> Any:
            if len(self.batches) == 0:
                self.batches.append(len(rows))
                raise ValueError("bad input")
            return super().predict(rows)

    batcher = service.Batcher(Flaky())

    async def two_rounds() -> tuple[BaseException | None, Any]:
        first = await asyncio.gather(batcher(np.ones((1, 3))), return_exceptions=True)
        second = await batcher(np.ones((1, 3)))
        return first[0], second

    failed, ok = asyncio.run(two_rounds())
    assert isinstance(failed, ValueError)
    assert ok.tolist() == [3.0]


def test_non_numeric_models_get_a_dataframe_in_a_thread(tmp_path: Path) -> None:
    module = load_service(
        tmp_path, flavour="python_function", inputs=(Column("a", "double"), Column("s", "string"))
    )
    assert module.NUMERIC is False
    seen: list[Any] = []

    class FrameModel:
        def predict(self, frame: Any) -> Any:
            seen.append(list(frame.columns))
            return frame["a"] * 2

    batcher = module.Batcher(FrameModel())
    rows = module.rows_of({"dataframe_records": [{"s": "x", "a": 1.5}]})

    async def one() -> Any:
        return await batcher(rows)

    assert list(asyncio.run(one())) == [3.0]
    assert seen == [["a", "s"]]


def test_pyfunc_models_with_a_tensor_signature_get_the_array(tmp_path: Path) -> None:
    module = load_service(
        tmp_path, flavour="python_function", inputs=(Column("", "tensor:float32"),)
    )
    assert module.NUMERIC is True and module.COLUMNS == ()
    fake = SumModel()
    batcher = module.Batcher(fake)
    rows = module.rows_of({"inputs": [[1, 2], [3, 4]]})

    async def one() -> Any:
        return await batcher(rows)

    assert asyncio.run(one()).tolist() == [3.0, 7.0]
    assert fake.batches == [2]


async def _no_body() -> Any:
    return {"type": "http.request", "body": b""}


def test_a_request_leaves_no_timeout_timer_behind(service: ModuleType) -> None:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    assert service.TIMEOUTS_CANCELLED is True
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await service._answer(send, 200, {"ok": True})

    async def send(message: Any) -> None:
        sent.append(message)

    async def one_request() -> int:
        await TimeoutMiddleware(app, timeout=60)({"type": "http"}, _no_body, send)
        loop: Any = asyncio.get_running_loop()  # asyncio's own loop keeps its timers here
        scheduled: list[asyncio.TimerHandle] = loop._scheduled
        return len([handle for handle in scheduled if not handle.cancelled()])

    assert asyncio.run(one_request()) == 0  # BentoML's own left one armed for 60 s
    assert sent[0]["status"] == 200


def test_a_request_past_the_timeout_still_gets_504(service: ModuleType) -> None:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    sent: list[dict[str, Any]] = []

    async def stuck(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(TimeoutMiddleware(stuck, timeout=0.01)({"type": "http"}, _no_body, send))
    assert sent[0]["status"] == 504
    assert b"0.01 seconds" in sent[1]["body"]


def test_an_app_that_fails_before_answering_fails_the_request_at_once(
    service: ModuleType,
) -> None:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("no answer")

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent: the error middleware outside answers 500")

    with pytest.raises(RuntimeError, match="no answer"):  # not a 504 after 60 s
        asyncio.run(TimeoutMiddleware(broken, timeout=60)({"type": "http"}, _no_body, send))


def test_the_loaded_model_is_out_of_the_collectors_reach(tmp_path: Path) -> None:
    import gc

    module = load_service(tmp_path)
    calls: list[int] = []

    class Model(SumModel):
        def predict(self, rows: Any) -> Any:
            calls.append(rows.shape[1])
            return super().predict(rows)

    module.load_model = Model  # type: ignore[attr-defined]
    try:
        module.Model()
        assert gc.get_freeze_count() > 0  # imports and model moved to the permanent generation
        assert calls == [len(COLUMNS)]  # one warm-up call on a row of the model's width
        assert module.BATCHER is not None
    finally:
        gc.unfreeze()
