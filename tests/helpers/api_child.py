"""``somlier api`` as a child process on 127.0.0.1, for the API and webhook tests.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers.api_fakes import TOKEN, wait_until

WEBHOOK_SECRET = "webhook-secret-0123456789"


@dataclass
class Child:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(30)

    @property
    def log(self) -> str:
        return "".join(self.lines)


def start_api(
    folder: Path, *args: str, token: str | None = TOKEN, env_extra: dict[str, str] | None = None
) -> Child:
    env = {k: v for k, v in os.environ.items() if k != "SOMLIER_API_TOKEN"}
    env["SOMLIER_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    env.update(env_extra or {})
    if token is not None:
        env["SOMLIER_API_TOKEN"] = token
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "api", "-C", str(folder), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("somlier api: http://"):
            break
    else:
        raise AssertionError(f"somlier api did not start:\n{''.join(lines)}")
    child = Child(proc, line.split()[2], lines)
    threading.Thread(target=lambda: child.lines.extend(proc.stdout or ()), daemon=True).start()
    wait_until(
        lambda: {"code": httpx.get(f"{child.url}/healthz", timeout=30).status_code},
        lambda d: d["code"] == 200,
    )
    return child
