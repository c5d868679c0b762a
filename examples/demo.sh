#!/usr/bin/env bash
# The main job on the embedded defaults: what a PR in the example monorepo runs, on one laptop.
# Needs only `somlier` on PATH (make demo puts the project's .venv there). With a Docker engine
# (DOCKER_HOST, or the standard socket) the images are really built, and pushed to a registry
# the demo starts when Debian's docker-registry is installed; without one, the build is planned
# (--dry-run) and the demo says how to enable it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
examples="$here/ml-projects"
# What actually ran, what was skipped (and why), what failed: the closing summary says exactly this.
ran=() skipped=() failed=()
current=""
step() { current="$*"; printf '\n\033[1m==> %s\033[0m\n' "$*"; }
work=$(mktemp -d)
registry_pid=""
wheels_pid=""
cleanup() {
  code=$?
  if [ "$code" -ne 0 ] && [ -n "$current" ]; then
    printf '\n\033[1m==> stopped\033[0m\n'
    if [ ${#ran[@]} -gt 0 ]; then echo "ran:"; printf '  - %s\n' "${ran[@]}"; fi
    echo "failed at: $current (exit $code); nothing after it ran"
  fi
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
  if [ -n "$wheels_pid" ]; then kill "$wheels_pid" 2>/dev/null || true; fi
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
ran+=("validated the example monorepo, showed a project and ran 2 entrypoints")

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
ran+=("found the projects a branch changes")

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
  ran+=("built their images${SOMLIER__REGISTRY__URL:+ and pushed them to $SOMLIER__REGISTRY__URL}")
else
  step "somlier pipeline build --base main --pr 1 --dry-run"
  echo "build skipped: no Docker engine reachable (set DOCKER_HOST, or start one: sudo make services)"
  somlier pipeline build -C "$repo" --base main --pr 1 --dry-run
  skipped+=("the image builds (no Docker engine; planned with --dry-run instead)")
fi

# --- batch jobs: the DAGs of the example's offline: jobs, and the PR they would open ---------
step "somlier offline render --project projects/demand-forecast --dry-run"
tag="sha-$(git -C "$repo" rev-parse --short=7 HEAD)"  # the immutable tag the image step pushes
somlier offline render -C "$repo" --project projects/demand-forecast --tag "$tag" --output-dir "$work/dags" --dry-run > "$work/dags.txt" 2>/dev/null
sed -n 1,40p "$work/dags.txt"; echo "…"
somlier offline render -C "$repo" --project projects/demand-forecast --tag "$tag" --output-dir "$work/dags"
ran+=("rendered the example's batch-job DAGs")

airflow=""
if [ -x "${SOMLIER_AIRFLOW_PYTHON:-$here/../.venv-airflow/bin/python}" ]; then
  export SOMLIER_AIRFLOW_PYTHON="${SOMLIER_AIRFLOW_PYTHON:-$here/../.venv-airflow/bin/python}"
  airflow=yes
fi
step "somlier dags check   (the rendered DAGs in a real Airflow DagBag)"
somlier dags init "$work/dags-repo" >/dev/null
cp -r "$work/dags" "$work/dags-repo/dags"
if [ -n "$airflow" ]; then
  somlier dags check "$work/dags-repo"
  ran+=("checked them in a real Airflow")
else
  echo "check skipped: no Airflow here (install it once with: make airflow)"
  skipped+=("the Airflow check of the example's DAGs (no Airflow here: make airflow)")
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
ran+=("showed the mlops-dags PR they would open")

# --- the tutorial's path (docs/tutorial.md) in a new monorepo -----------------------------------
# The example's platform.yaml points MLflow at the cluster's server; the demo keeps its own store.
export MLFLOW_TRACKING_URI="sqlite:///$work/mlflow.db"
step "somlier new-monorepo ml-projects; somlier new-project nuj-project   (docs/tutorial.md)"
mkdir -p "$work/new"
(cd "$work/new" && somlier new-monorepo ml-projects > /dev/null)
mono="$work/new/ml-projects"
git -C "$mono" add -A && git -C "$mono" commit -qm "the monorepo"
somlier new-project --output-dir "$mono/projects" --no-input --project-name nuj-project \
  --description "nuj's ml project for example" --team "data platform team" --author nuj --email nuj@example.com
project="$mono/projects/nuj-project"
ran+=("created a monorepo and the project nuj-project")

step "somlier notebook notebooks/example/example.ipynb -o train.py --force"
(cd "$project" && somlier notebook notebooks/example/example.ipynb -o train.py --force)
step "somlier config run test   (the project's checks, with the notebook's train.py)"
somlier config run -f "$project/somlier.yaml" test
ran+=("converted its notebook to train.py and ran its test entrypoint")
git -C "$mono" switch -qc nuj-project
git -C "$mono" add -A && git -C "$mono" commit -qm "feat(nuj-project): train.py from the example notebook"

step "somlier online train projects/nuj-project nuj-project   (MLflow tracking in $work/mlflow.db)"
somlier online train -C "$mono" projects/nuj-project nuj-project --json > "$work/runs.json"
run_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["run_id"])' "$work/runs.json")
python3 -c 'import json, sys
for r in json.load(open(sys.argv[1])): print("run", r["run_id"] + ":", r["status"], r.get("params") or "")' "$work/runs.json"
step "somlier online register $run_id nuj-project"
somlier online register -C "$mono" "$run_id" nuj-project
ran+=("trained it with MLflow tracking and registered version 1")

# The image's name and its commit tag, as the build names them (its --dry-run plan).
image=$(somlier pipeline build -C "$mono" --base main --dry-run 2>/dev/null | python3 -c '
import json, sys
plan = json.load(sys.stdin)
project = plan["projects"][0]
print(project["image"] + ":" + next(t for t in project["tags"] if t.startswith("sha-")))')
built=""
if [ -n "$engine" ]; then
  # The image installs the wheels this machine's pip downloads (its index, proxy and CAs): a
  # build reaches only a find-links page on 127.0.0.1 (packages: in .somlier/platform.yaml).
  step "pip download   (the project's requirements and somlier's, for the image, on the host)"
  wheels="${SOMLIER_DEMO_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/somlier/demo-wheels}"
  mkdir -p "$wheels"
  python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: -d "$wheels" \
    -r "$project/requirements.txt" $(python3 -c '
import importlib.metadata as m
print(" ".join(r.split(";")[0].replace(" ", "") for r in m.requires("somlier") or () if "extra ==" not in r))') \
    > "$work/pip-download.log" 2>&1 || { tail -n 20 "$work/pip-download.log"; false; }
  wheels_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 --directory "$wheels" "$wheels_port" > "$work/wheels.log" 2>&1 &
  wheels_pid=$!
  export SOMLIER__PACKAGES__FIND_LINKS="[\"http://127.0.0.1:$wheels_port/\"]"
  export SOMLIER__PACKAGES__INDEX_URL="http://127.0.0.1:$wheels_port/no-index/"
  step "somlier pipeline build --base main   (the project's image: $image)"
  if somlier pipeline build -C "$mono" --base main; then
    ran+=("built its image $image")
    built=yes
  else
    failed+=("the build of its image")
  fi
else
  skipped+=("the build of its image and the run of its batch job (no Docker engine)")
fi

step "somlier offline create IMAGE \"0 9 * * *\" \"run main\" nuj_tutorial   (plain, and on 2 GPUs)"
dags_repo="$work/tutorial-dags"   # a checkout of the DAGs repository: the operators the DAGs import
somlier dags init "$dags_repo" > /dev/null
somlier offline create -C "$project" "$image" "0 9 * * *" "run main" nuj_tutorial --output-dir "$dags_repo/dags"
somlier offline create -C "$project" "$image" "0 9 * * *" "run main" nuj_tutorial_gpu \
  --output-dir "$dags_repo/dags" --gpu_type=nvidia-tesla-p100 --num_of_gpus=2
ran+=("wrote its batch job's DAGs (plain and GPU)")
checked=""
if [ -n "$airflow" ]; then
  step "somlier dags check   (its DAGs in a real Airflow DagBag, and the pods their tasks create)"
  if somlier dags check "$dags_repo" && somlier dags check --json "$dags_repo" > "$work/pods.json"; then
    ran+=("checked them in a real Airflow")
    checked=yes
  else
    failed+=("the Airflow check of its DAGs")
  fi
else
  skipped+=("the Airflow check of its DAGs and the run of their pods (no Airflow here: make airflow)")
fi
if [ -n "$built" ] && [ -n "$checked" ]; then
  # Each task's pod as the kubelet would start it: the image, command and args of its spec.
  python3 - "$work/pods.json" > "$work/pods.txt" <<'PY'
import json
import shlex
import sys

for dag in json.load(open(sys.argv[1]))["dags"]:
    for task in dag["tasks"]:
        pod = task["pod"]
        argv = ["docker", "run", "--rm", "--network", "none"]
        command = pod["command"]
        if command:
            argv += ["--entrypoint", command[0]]
        print(shlex.join([*argv, pod["image"], *command[1:], *pod["args"]]))
PY
  while read -r line; do
    step "$line   (a DAG task's pod)"
    if eval "$line"; then ran+=("ran a DAG task's pod: $line"); else failed+=("the pod: $line"); fi
  done < "$work/pods.txt"
fi

step "somlier online deploy nuj-project 1 --once   (BentoML on 127.0.0.1: one prediction, then stop)"
somlier online deploy -C "$mono" nuj-project 1 --once --port 0
ran+=("served it for one prediction")

step "summary"
if [ -s "$summary" ]; then cat "$summary"; fi
echo "ran:"
for line in "${ran[@]}"; do echo "  - $line"; done
if [ ${#skipped[@]} -gt 0 ]; then
  echo "skipped:"
  for line in "${skipped[@]}"; do echo "  - $line"; done
fi
current=""  # the summary is printed: the exit trap adds nothing
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed:"
  for line in "${failed[@]}"; do echo "  - $line"; done
  exit 1
fi
echo "all good"
