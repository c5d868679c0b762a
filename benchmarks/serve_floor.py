"""The floor for benchmarks/serve.py: the least a Python server can do per request for the same
model, as a hand-written ASGI app under uvicorn (httptools, uvloop; the server BentoML runs).

It reads the body, takes the rows of MLflow's ``dataframe_split`` JSON as one float array, calls
the scikit-learn model's ``predict`` (loaded with ``mlflow.sklearn`` from the folder in
``SOMLIER_FLOOR_MODEL``) and answers ``{"predictions": [...]}``. No batching, no middleware,
no error handling beyond what uvicorn does.

    SOMLIER_FLOOR_MODEL=path/to/model uvicorn serve_floor:app --app-dir benchmarks
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import mlflow.sklearn
import numpy as np

warnings.filterwarnings("ignore", message="X does not have valid feature names")
MODEL = mlflow.sklearn.load_model(os.environ["SOMLIER_FLOOR_MODEL"])
HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    rows = np.asarray(json.loads(body)["dataframe_split"]["data"], dtype=np.float64)
    answer = json.dumps({"predictions": MODEL.predict(rows).tolist()}).encode()
    headers = [*HEADERS, (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
