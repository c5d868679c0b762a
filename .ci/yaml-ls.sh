#!/usr/bin/env bash
# The real yaml-language-server (npm) for the editor-completion test, installed once into the
# test cache and reused.
#
#   .ci/yaml-ls.sh     install when missing; print the server's entry script on stdout
#
# Settings (environment):
#   SOMLIER_CACHE      cache folder (default ~/.cache/somlier-test)
set -euo pipefail

VERSION=2.0.0 # bump deliberately: the test speaks its LSP dialect
CACHE="${SOMLIER_CACHE:-${HOME:-/root}/.cache/somlier-test}"
DIR="$CACHE/yaml-language-server-$VERSION"
SERVER="$DIR/node_modules/yaml-language-server/bin/yaml-language-server"

die() {
  printf 'yaml-ls.sh: error: %s\n' "$*" >&2
  exit 1
}

if [ ! -f "$SERVER" ]; then
  command -v node >/dev/null || die "node not found (Debian: apt-get install nodejs npm)"
  command -v npm >/dev/null || die "npm not found (Debian: apt-get install npm)"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/yaml-ls.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -f "$SERVER" ]; then
    printf 'yaml-ls.sh: installing yaml-language-server@%s into %s\n' "$VERSION" "$DIR" >&2
    rm -rf "$DIR.tmp"
    mkdir -p "$DIR.tmp"
    npm install --prefix "$DIR.tmp" --no-audit --no-fund --silent \
      "yaml-language-server@$VERSION" >&2 || die "npm install failed"
    rm -rf "$DIR"
    mv "$DIR.tmp" "$DIR"
  fi
fi
echo "$SERVER"
