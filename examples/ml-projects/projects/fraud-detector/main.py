"""Entrypoint `main` of fraud-detector: uses the shared library in libs/common."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "libs" / "common"))

from common import greet  # noqa: E402

print(greet("fraud-detector"))
