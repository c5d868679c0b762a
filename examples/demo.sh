#!/usr/bin/env bash
# The main job on the embedded defaults: what a PR in the example monorepo would run.
# Needs only `somlier` on PATH (make demo puts the project's .venv there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo="$here/ml-projects"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "somlier validate $repo"
somlier validate "$repo"

step "somlier config show   (projects/demand-forecast)"
somlier config show -f "$repo/projects/demand-forecast/somlier.yaml"

step "somlier config show -d   (its dependencies)"
somlier config show -d -f "$repo/projects/demand-forecast/somlier.yaml"

step "somlier config run main   (projects/churn-model)"
somlier config run -f "$repo/projects/churn-model/somlier.yaml" main

step "somlier config run main   (projects/fraud-detector, text logging, uses libs/common)"
somlier config run -f "$repo/projects/fraud-detector/somlier.yaml" main

step "summary"
projects=$(somlier validate --json "$repo" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["checked"])')
echo "validated $projects projects, showed 1 project's settings and dependencies, ran 2 entrypoints: all good"
