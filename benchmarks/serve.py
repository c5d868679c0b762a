"""Benchmark: one registered scikit-learn model served by `mlflow models serve` (the peer), by
somlier's local deployment (`somlier online deploy`, BentoML), and by the floor (a hand-written
ASGI endpoint calling the same model's ``predict``, benchmarks/serve_floor.py, under uvicorn),
side by side in one run.

Every server gets the same request body (one row, MLflow's ``dataframe_split`` JSON, which all
accept), one worker each, on 127.0.0.1. Saturation: a bounded load generator (``wrk`` when on
PATH, else a built-in asyncio client with raw HTTP/1.1 keep-alive) keeps CONNECTIONS requests in
flight for DURATION seconds after a warm-up, and reports requests/s, p50 and p99. Then, at a
constant rate of half of somlier's best requests/s (``--paced-rounds``; or ``--rate R``), the
paced asyncio client sends at fixed times and counts each latency from the time the request was
due, so a server that stalls is charged for the requests it held up (no coordinated omission).
Every answer is checked to be 200 with the right prediction before the load starts.

``--pandas2 DIR`` adds the peer again with pandas 2 first on its path (DIR made by
``pip install --target DIR --no-deps "pandas==2.3.*" pytz``): MLflow's scoring path is
faster with it.

Usage: python benchmarks/serve.py [--duration 10] [--connections 16] [--rounds 2] [--rate R]
       [--paced-rounds 1] [--client wrk|asyncio] [--only somlier,floor,mlflow] [--pandas2 DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.online.bento import stage_bundle  # noqa: E402
from pipeline.online.model_ref import resolve_model  # noqa: E402
from pipeline.online.serve_local import LocalServer, free_port, post_json  # noqa: E402
from tests.integration.models import RegisteredModel, make_registered_model  # noqa: E402

HOST = "127.0.0.1"
SERVERS = ("mlflow", "mlflow-pandas2", "floor", "somlier")
PATHS = {"mlflow": "/invocations", "mlflow-pandas2": "/invocations"}


@dataclass
class Measured:
    server: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float = float("nan")  # the server's CPU time (all its processes) per request
    load: float = float("nan")  # the host's 1-minute load average when the measurement ended
    # How long the server's threads were ready to run but waited for a CPU (the kernel's run
    # queue), summed over its threads, per second of the measurement: what the other jobs on the
    # host cost it (0.5 = its threads queued half a second in each second, all together).
    queued: float = float("nan")
    paced: bool = False
    client_lag_ms: float = float("nan")  # p99 of the paced client's own loop lag (its noise)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def body_for(model: RegisteredModel) -> bytes:
    row = list(model.example_rows[0])
    return json.dumps({"dataframe_split": {"columns": list(model.columns), "data": [row]}}).encode()


# -- load generators -----------------------------------------------------------------------


async def _connection(
    port: int, path: str, body: bytes, deadline: float, budget: list[int], latencies: list[float],
    pace: tuple[float, float] | None = None,
) -> int:  # fmt: skip
    """Send requests back to back, or with ``pace`` = (first send time, interval) at fixed times;
    paced latencies count from the scheduled time, so a server that falls behind is charged for
    the wait (no coordinated omission)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    request = head + body
    errors = 0
    clock = time.perf_counter
    try:
        scheduled = pace[0] if pace else 0.0
        while budget[0] > 0 and clock() < deadline:
            budget[0] -= 1
            if pace:
                delay = scheduled - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                started = scheduled
                scheduled += pace[1]
            else:
                started = clock()
            writer.write(request)
            headers = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", headers)
            length = int(match.group(1)) if match else 0
            await reader.readexactly(length)
            latencies.append(clock() - started)
            if not headers.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
    return errors


async def _asyncio_load(
    port: int, path: str, body: bytes, seconds: float, connections: int, max_requests: int,
    rate: float | None = None,
) -> Measured:  # fmt: skip
    latencies: list[float] = []
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + seconds

    def pace(i: int) -> tuple[float, float] | None:
        # connection i sends at started + i/rate, then every connections/rate seconds
        return (started + i / rate, connections / rate) if rate else None

    lags: list[float] = []

    async def probe() -> int:
        # How late the client's own loop wakes up from a 1 ms sleep: a paced request is due
        # then too, so this is the part of a paced latency the client itself may add.
        while time.perf_counter() < deadline:
            asked = time.perf_counter() + 1e-3
            await asyncio.sleep(1e-3)
            lags.append(max(0.0, time.perf_counter() - asked))
        return 0

    errors = await asyncio.gather(
        *(
            _connection(port, path, body, deadline, budget, latencies, pace(i))
            for i in range(connections)
        ),
        *([probe()] if rate else []),
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0]
    result = Measured("", len(latencies), sum(errors), elapsed, q[49] * 1e3, q[98] * 1e3)
    if len(lags) > 1:
        result.client_lag_ms = statistics.quantiles(lags, n=100)[98] * 1e3
    return result


def asyncio_load(
    port: int, path: str, body: bytes, seconds: float, connections: int, rate: float | None = None
) -> Measured:
    # Bounded in time and in count: at most 200,000 requests per measurement.
    coroutine = _asyncio_load(port, path, body, seconds, connections, 200_000, rate)
    try:
        import uvloop  # the client's own loop costs less with it: less of its lag is charged
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _wrk_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wrk_load(port: int, path: str, body: bytes, seconds: float, connections: int) -> Measured:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    try:
        done = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", script.name, f"http://{HOST}:{port}{path}"],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not total:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    count = int(total.group(1))
    elapsed = float(total.group(2)) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Measured("", count, errors, elapsed, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"))


# -- servers -------------------------------------------------------------------------------


def wait_http(port: int, path: str, timeout: float, child: subprocess.Popen[bytes]) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"server exited with {child.returncode}: see its log")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"no answer on {path} after {timeout}s")


def start_mlflow(
    model: RegisteredModel, port: int, log: Path, pandas2: Path | None = None
) -> subprocess.Popen[bytes]:
    argv = [
        str(Path(sys.executable).parent / "mlflow"), "models", "serve",
        "-m", f"models:/{model.model_name}/{model.version}",
        "--env-manager", "local", "--host", HOST, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # `mlflow models serve` runs `uvicorn` from PATH: this interpreter's.
    env = {**model.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if pandas2 is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pandas2), env.get("PYTHONPATH")]))
    child = subprocess.Popen(
        argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    wait_http(port, "/ping", 180, child)
    return child


def start_floor(model_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """benchmarks/serve_floor.py under uvicorn, as BentoML runs its worker: httptools, uvloop,
    no access log."""
    argv = [
        sys.executable, "-m", "uvicorn", "serve_floor:app", "--app-dir", str(ROOT / "benchmarks"),
        "--host", HOST, "--port", str(port), "--http", "httptools", "--loop", "uvloop",
        "--lifespan", "off", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "SOMLIER_FLOOR_MODEL": str(model_dir)}
    child = subprocess.Popen(
        argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while True:  # no GET route: ready when a prediction answers
        if child.poll() is not None:
            raise RuntimeError(f"the floor server exited with {child.returncode}: see {log}")
        with contextlib.suppress(Exception):
            post_json(HOST, port, "/", {"dataframe_split": {"data": [[0, 0, 0, 0]]}}, timeout=2)
            return child
        if time.monotonic() > deadline:
            raise RuntimeError(f"the floor server did not answer after 120s: see {log}")
        time.sleep(0.25)


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server and every process it started; SIGKILL what is left after 15 s."""
    import psutil

    top = psutil.Process(child.pid)
    family = [top, *top.children(recursive=True)]
    for p in family:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(family, timeout=15)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    child.wait()


# -- the run -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and all its descendants (the server's workers)."""
    import psutil

    top = psutil.Process(pid)
    total = 0.0
    for p in [top, *top.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def queued_seconds(pid: int) -> float:
    """Seconds the threads of ``pid`` and its descendants spent runnable but not running
    (the second field of /proc/PID/task/TID/schedstat); NaN where the kernel does not say."""
    import psutil

    top = psutil.Process(pid)
    total = 0.0
    for p in [top, *top.children(recursive=True)]:
        for stat in Path(f"/proc/{p.pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(stat.read_text().split()[1]) / 1e9
    return total if Path("/proc/self/schedstat").exists() else float("nan")


def measure(
    name: str, pid: int, port: int, path: str, body: bytes, args: argparse.Namespace,
    load: Callable[[int, str, bytes, float, int], Measured], warm_up: bool = True,
) -> Measured:  # fmt: skip
    if warm_up:
        load(port, path, body, min(3.0, args.duration), args.connections)
    before, queued_before = cpu_seconds(pid), queued_seconds(pid)
    result = load(port, path, body, args.duration, args.connections)
    result.queued = (queued_seconds(pid) - queued_before) / result.seconds
    # CPU per request does not depend on what else the machine runs: the number to trust
    # when the host is shared.
    result.cpu_ms = (cpu_seconds(pid) - before) * 1e3 / max(1, result.requests)
    result.server = name
    result.load = os.getloadavg()[0]
    return result


def show(r: Measured) -> None:
    print(
        f"{r.server:14} {r.rps:8.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:7.2f} ms"
        f"  CPU {r.cpu_ms:5.2f} ms/req  load {r.load:5.2f}  queued {r.queued:4.2f} s/s"
        + (f"  client lag p99 {r.client_lag_ms:.1f} ms" if r.paced else "")
        + f"  ({r.requests} requests,"
        f" {r.errors} errors)",
        flush=True,
    )


def summary(results: list[Measured], paced_rate: float | None) -> None:
    saturated = [r for r in results if not r.paced]
    best: dict[str, Measured] = {}
    for name in SERVERS:
        mine = [r for r in saturated if r.server == name]
        if mine:
            best[name] = b = max(mine, key=lambda r: r.rps)
            print(
                f"{name:14} best {b.rps:8.0f} req/s  p50 {b.p50_ms:6.2f} ms  p99 {b.p99_ms:7.2f}"
                f" ms  CPU {min(r.cpu_ms for r in mine):5.2f} ms/req  load {b.load:5.2f}"
            )
    peers = [best[n] for n in ("mlflow", "mlflow-pandas2") if n in best]
    if "somlier" in best and peers:
        peer = max(peers, key=lambda r: r.rps)
        s = best["somlier"]
        print(
            f"somlier / {peer.server} (the better peer): throughput {s.rps / peer.rps:.2f}x,"
            f" p99 {s.p99_ms:.1f} vs {peer.p99_ms:.1f} ms"
        )
    if "somlier" in best and "floor" in best:
        s, f = best["somlier"], best["floor"]
        print(
            f"floor / somlier throughput: {f.rps / s.rps:.2f}x;"
            f" somlier / floor p99: {s.p99_ms / f.p99_ms:.2f}x"
        )
    paced = [r for r in results if r.paced]
    if paced:
        print(f"\nat a constant {paced_rate:.0f} req/s (latency from the time each was due):")
        for r in paced:
            show(r)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="measurements per server")
    parser.add_argument("--client", choices=["wrk", "asyncio"], default=None)
    parser.add_argument(
        "--only", default=None,
        help=f"comma-separated servers to run, of {', '.join(SERVERS)} (default: all there are)",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=float, default=None,
        help="offer this many requests/s (paced asyncio client) instead of as many as possible: "
        "compares latency at equal load",
    )  # fmt: skip
    parser.add_argument(
        "--paced-rounds", type=int, default=1,
        help="then measure somlier and the floor at half of somlier's best requests/s",
    )  # fmt: skip
    parser.add_argument("--pandas2", type=Path, default=None, help="a dir with pandas 2 in it")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else set(SERVERS)
    if unknown := wanted - set(SERVERS):
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if args.pandas2 is None:
        wanted.discard("mlflow-pandas2")
    client = args.client or ("wrk" if shutil.which("wrk") and not args.rate else "asyncio")
    load: Callable[[int, str, bytes, float, int], Measured]
    if args.rate:
        client = f"asyncio paced at {args.rate:g} req/s"
        load = functools.partial(asyncio_load, rate=args.rate)
    else:
        load = wrk_load if client == "wrk" else asyncio_load

    work = Path(tempfile.mkdtemp(prefix="somlier-bench-serve-"))
    results: list[Measured] = []
    children: list[subprocess.Popen[bytes]] = []
    server: LocalServer | None = None
    paced_rate: float | None = None
    try:
        model = make_registered_model(work / "store")
        body = body_for(model)
        expected = model.expected[0]
        ports: dict[str, int] = {}
        pids: dict[str, int] = {}
        for name in ("mlflow", "mlflow-pandas2"):
            if name in wanted:
                ports[name] = free_port()
                started = time.perf_counter()
                pandas2 = args.pandas2 if name == "mlflow-pandas2" else None
                children.append(start_mlflow(model, ports[name], work / f"{name}.log", pandas2))
                pids[name] = children[-1].pid
                print(f"{name} ready in {time.perf_counter() - started:.1f}s", flush=True)
                answer = post_json(HOST, ports[name], "/invocations", json.loads(body))
                assert answer["predictions"][0] == expected, answer
        resolved = resolve_model(
            model.model_name, model.version, tracking_uri=model.tracking_uri,
            dest=work / "download",
        )  # fmt: skip
        if "floor" in wanted:
            ports["floor"] = free_port()
            children.append(start_floor(resolved.path, ports["floor"], work / "floor.log"))
            pids["floor"] = children[-1].pid
            answer = post_json(HOST, ports["floor"], "/", json.loads(body))
            assert answer["predictions"][0] == expected, answer
        if "somlier" in wanted:
            bundle = stage_bundle(resolved, work / "bundle", workers=1)
            env = {**os.environ, "BENTOML_DO_NOT_TRACK": "True", "BENTOML_HOME": str(work / "bh")}
            server = LocalServer(bundle, port=free_port(), log_path=work / "bento.log", env=env)
            started = time.perf_counter()
            server.start()
            server.wait_ready()
            print(f"somlier (bentoml serve) ready in {time.perf_counter() - started:.1f}s")
            ports["somlier"] = server.port
            assert server.child is not None
            pids["somlier"] = server.child.pid
            answer = post_json(HOST, server.port, "/predict", json.loads(body))
            assert answer["predictions"][0] == expected, answer
        for _ in range(args.rounds):  # interleaved, so drift in the machine's load hits all
            for name, port in ports.items():
                path = PATHS.get(name, "/predict" if name == "somlier" else "/")
                results.append(measure(name, pids[name], port, path, body, args, load))
                show(results[-1])
        mine = [r.rps for r in results if r.server == "somlier"]
        if mine and args.paced_rounds and not args.rate:
            paced_rate = max(mine) / 2
            paced = functools.partial(asyncio_load, rate=paced_rate)
            for _ in range(args.paced_rounds):
                for name in ("floor", "somlier"):
                    if name in ports:
                        path = "/predict" if name == "somlier" else "/"
                        r = measure(name, pids[name], ports[name], path, body, args, paced, False)
                        r.paced = True
                        results.append(r)
                        show(r)
    finally:
        if server is not None:
            server.stop()
        for child in children:
            stop(child)
    print(f"\nclient {client}, {args.connections} connections, {args.duration:.0f}s x "
          f"{args.rounds} rounds, one worker each, {os.cpu_count()} CPUs")  # fmt: skip
    summary(results, paced_rate)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
