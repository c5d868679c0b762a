#!/bin/bash
# The `main` entrypoint of somlier.yaml: what the image and the batch jobs run.
set -euo pipefail
exec python main.py "$@"
