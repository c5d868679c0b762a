"""Entrypoint `main` of fraud-detector: uses the shared library in libs/common."""

import pathlib
import sys

try:
    from common import greet  # in the image: PYTHONPATH=/libs/common
except ImportError:  # in the monorepo: libs/common two folders up
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "libs" / "common"))
    from common import greet

print(greet("fraud-detector"))
