#!/usr/bin/env bash
# Separate virtual environments with a real Airflow, one per supported major version, for
# `somlier dags check`, the Airflow integration tests and benchmarks/dags.py. Airflow's dependency
# tree clashes with somlier's dev extras, so it never shares .venv.
#
#   .ci/airflow.sh [MAJOR]          install (or do nothing when the pinned set is already there);
#                                   prints the venv's python on stdout, progress on stderr
#   .ci/airflow.sh [MAJOR] python   print the venv's python when it is installed, else exit 1
#
# MAJOR is 3 (default: .venv-airflow) or 2 (.venv-airflow2): the newest release of each, with the
# same cncf-kubernetes and Slack providers.
#
# Settings (environment):
#   SOMLIER_AIRFLOW_VENV    where the venv goes (default: $REPO/.venv-airflow, or .venv-airflow2)
#   SOMLIER_AIRFLOW_BASE    the Python that creates it (default: python3; 3.10 to 3.13)
#
# Airflow publishes its constraint files on GitHub, which these machines cannot reach (PyPI only):
# the pins below are sets that resolve together from PyPI. Bump them together, then run the
# Airflow integration tests and benchmarks/dags.py.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
MAJOR=3
case "${1:-}" in
  2 | 3)
    MAJOR=$1
    shift
    ;;
esac
PROVIDERS=(
  "apache-airflow-providers-cncf-kubernetes==10.25.0"
  "apache-airflow-providers-slack==9.11.1"
  "dag-factory==1.1.0"
)
if [ "$MAJOR" = 2 ]; then
  DEFAULT_VENV="$REPO/.venv-airflow2"
  PINS=("apache-airflow==2.11.2" "${PROVIDERS[@]}")
else
  DEFAULT_VENV="$REPO/.venv-airflow"
  PINS=("apache-airflow==3.3.2" "${PROVIDERS[@]}")
fi
VENV="${SOMLIER_AIRFLOW_VENV:-$DEFAULT_VENV}"
BASE="${SOMLIER_AIRFLOW_BASE:-python3}"
# The stamp names the pins: changing a pin reinstalls.
STAMP="$VENV/.somlier-airflow-$(printf '%s\n' "${PINS[@]}" | cksum | cut -d' ' -f1)"

log() { printf 'airflow.sh: %s\n' "$*" >&2; }
die() {
  printf 'airflow.sh: error: %s\n' "$*" >&2
  exit 1
}

# Importing airflow creates $AIRFLOW_HOME/logs: point it at a throwaway folder, never ~/airflow.
imports() {
  local home rc=0
  home=$(mktemp -d)
  AIRFLOW_HOME="$home" "$VENV/bin/python" -c \
    'import airflow, airflow.providers.cncf.kubernetes, dagfactory' >/dev/null 2>&1 || rc=$?
  rm -rf "$home"
  return "$rc"
}

installed() { [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ] && imports; }

if [ "${1:-}" = python ]; then
  installed || exit 1
  echo "$VENV/bin/python"
  exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [2|3] [python]"

# One installer at a time (pytest-xdist workers may all find the venv missing).
exec 9>"${TMPDIR:-/tmp}/somlier-airflow-$(printf '%s' "$VENV" | cksum | cut -d' ' -f1).lock"
if command -v flock >/dev/null; then flock 9; fi

if installed; then
  echo "$VENV/bin/python"
  exit 0
fi

command -v "$BASE" >/dev/null || die "$BASE not found: set SOMLIER_AIRFLOW_BASE to a Python 3.10+"
t0=$(date +%s)
log "installing ${PINS[*]} into $VENV (a few minutes, once)"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$BASE" -m venv "$VENV" || die "cannot create a venv with $BASE (Debian: apt-get install python3-venv)"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip "${PINS[@]}" \
  >"$VENV/install.log" 2>&1; then
  tail -n 30 "$VENV/install.log" >&2
  die "pip install failed (log: $VENV/install.log)"
fi
# Byte-compile once: with PYTHONDONTWRITEBYTECODE set, every DagBag fill would compile again.
"$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" >/dev/null 2>&1 || true
touch "$STAMP"
if ! imports; then
  rm -f "$STAMP"
  die "the venv does not import airflow after install (log: $VENV/install.log)"
fi
log "installed in $(($(date +%s) - t0)) s: airflow $("$VENV/bin/python" -c \
  'import importlib.metadata as m; print(m.version("apache-airflow"))')"
echo "$VENV/bin/python"
