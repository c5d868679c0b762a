#!/usr/bin/env bash
# The main job on the embedded defaults: what a PR in the example monorepo runs, on one laptop.
# Needs only `somlier` on PATH (make demo puts the project's .venv there). With a Docker engine
# (DOCKER_HOST, or the standard socket) the images are really built, and pushed to a registry
# the demo starts when Debian's docker-registry is installed; without one, the build is planned
# (--dry-run) and the demo says how to enable it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
examples="$here/ml-projects"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
work=$(mktemp -d)
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step "somlier validate $examples"
somlier validate "$examples"

step "somlier config show   (projects/demand-forecast)"
somlier config show -f "$examples/projects/demand-forecast/somlier.yaml"

step "somlier config show -d   (its dependencies)"
somlier config show -d -f "$examples/projects/demand-forecast/somlier.yaml"

step "somlier config run main   (projects/churn-model)"
somlier config run -f "$examples/projects/churn-model/somlier.yaml" main

step "somlier config run main   (projects/fraud-detector, text logging, uses libs/common)"
somlier config run -f "$examples/projects/fraud-detector/somlier.yaml" main

# --- the pull-request flow, on a throwaway copy of the monorepo --------------------------------
repo="$work/ml-projects"
cp -r "$examples" "$repo"
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.invalid
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.invalid
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" commit -qm "the monorepo"
git -C "$repo" checkout -qb feature
echo "# a change to the shared library" >> "$repo/libs/common/common/__init__.py"
git -C "$repo" commit -qam "change libs/common"

step "somlier pipeline changed --base main   (a branch that changes libs/common)"
somlier pipeline changed -C "$repo" --base main

engine=""
if [ -n "${DOCKER_HOST:-}" ] || [ -S /var/run/docker.sock ]; then
  if python3 -c 'import docker,sys; docker.from_env().ping()' 2>/dev/null; then engine=yes; fi
fi
summary="$work/summary.md"
: > "$summary"
if [ -n "$engine" ]; then
  # No Docker Hub on an offline machine: use the test suite's local Python image when present.
  if [ -z "${SOMLIER__BUILDER__BASE_IMAGE:-}" ] && python3 -c '
import docker; docker.from_env().images.get("somlier-test/python:3.11-bookworm")' 2>/dev/null; then
    export SOMLIER__BUILDER__BASE_IMAGE=somlier-test/python:3.11-bookworm
  fi
  if command -v docker-registry >/dev/null; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
      "$work/registry" "$port" > "$work/registry.yml"
    docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
    registry_pid=$!
    export SOMLIER__REGISTRY__URL="127.0.0.1:$port/ml"
    sleep 1
  fi
  step "somlier pipeline build --base main --pr 1   (build${SOMLIER__REGISTRY__URL:+, push to $SOMLIER__REGISTRY__URL})"
  GITHUB_STEP_SUMMARY="$summary" somlier pipeline build -C "$repo" --base main --pr 1
else
  step "somlier pipeline build --base main --pr 1 --dry-run"
  echo "build skipped: no Docker engine reachable (set DOCKER_HOST, or start one: sudo make services)"
  somlier pipeline build -C "$repo" --base main --pr 1 --dry-run
fi

# --- batch jobs: the DAGs of the example's offline: jobs, and the PR they would open ---------
step "somlier offline render --project projects/demand-forecast --dry-run"
tag="sha-$(git -C "$repo" rev-parse --short=7 HEAD)"  # the immutable tag the image step pushes
somlier offline render -C "$repo" --project projects/demand-forecast --tag "$tag" --output-dir "$work/dags" --dry-run > "$work/dags.txt" 2>/dev/null
sed -n 1,40p "$work/dags.txt"; echo "…"
somlier offline render -C "$repo" --project projects/demand-forecast --tag "$tag" --output-dir "$work/dags"

step "somlier dags check   (the rendered DAGs in a real Airflow DagBag)"
somlier dags init "$work/dags-repo" >/dev/null
cp -r "$work/dags" "$work/dags-repo/dags"
if [ -x "${SOMLIER_AIRFLOW_PYTHON:-$here/../.venv-airflow/bin/python}" ]; then
  SOMLIER_AIRFLOW_PYTHON="${SOMLIER_AIRFLOW_PYTHON:-$here/../.venv-airflow/bin/python}" \
    somlier dags check "$work/dags-repo"
else
  echo "check skipped: no Airflow here (install it once with: make airflow)"
fi

dags_origin="$work/mlops-dags.git"
git init -q --bare -b main "$dags_origin"
git -C "$work" clone -q "$dags_origin" dags-seed 2>/dev/null
echo "# mlops-dags" > "$work/dags-seed/README.md"
git -C "$work/dags-seed" add -A && git -C "$work/dags-seed" commit -qm "mlops-dags" && git -C "$work/dags-seed" push -q origin HEAD:main
step "somlier offline render --open-pr --dry-run   (the PR it would open in mlops-dags)"
cat > "$work/show_pr.py" <<'PY'
import json
import sys

for pr in json.load(sys.stdin)["pull_requests"]:
    project, verb = pr["project"], pr["status"].replace("planned", "open or update")
    print(f"{project}: would {verb} the PR {pr['branch']} -> {pr['base']}")
    for key in ("added", "updated", "removed"):
        for dag_id in pr[key]:
            print(f"  {key:8s} dags/{project}/{dag_id}.py")
PY
SOMLIER_DAGS_CLONE_URL="file://$dags_origin" \
  somlier offline render -C "$repo" --project projects/demand-forecast --tag "$tag" --output-dir "$work/dags" \
  --open-pr --dry-run --json 2>/dev/null | python3 "$work/show_pr.py"

# --- models: train, register, serve ------------------------------------------------------------
# The example's platform.yaml points MLflow at the cluster's server; the demo keeps its own store.
export MLFLOW_TRACKING_URI="sqlite:///$work/mlflow.db"
step "somlier online train projects/churn-model main   (MLflow tracking in $work/mlflow.db)"
somlier online train -C "$repo" projects/churn-model main --json > "$work/runs.json"
run_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["run_id"])' "$work/runs.json")
python3 -c 'import json, sys
for r in json.load(open(sys.argv[1])): print("run", r["run_id"] + ":", r["status"], r.get("params") or "")' "$work/runs.json"

step "somlier online register $run_id churn-model --alias champion"
somlier online register -C "$repo" "$run_id" churn-model --alias champion

step "somlier online deploy churn-model 1 --once   (BentoML on 127.0.0.1: one prediction, then stop)"
somlier online deploy -C "$repo" churn-model 1 --once --port 0

step "summary"
if [ -s "$summary" ]; then cat "$summary"; fi
echo "validated the example monorepo, showed a project, ran 2 entrypoints, found the changed"
echo "projects of a branch, $([ -n "$engine" ] && echo "built their images" || echo "planned their images"), rendered and"
echo "checked the batch jobs' Airflow DAGs, showed the mlops-dags PR they would open, trained and"
echo "registered churn-model version 1 and served it for one prediction: all good"
