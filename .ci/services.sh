#!/usr/bin/env bash
# Real services for the integration tests: a Docker engine and an OCI registry, on loopback only.
#
#   .ci/services.sh install       apt-get Debian's docker.io, docker-registry, busybox-static,
#                                 debootstrap (only what is missing)
#   .ci/services.sh start         start dockerd (no bridge, no iptables) and docker-registry on
#                                 127.0.0.1; write $D/env (DOCKER_HOST=…, SOMLIER_TEST_REGISTRY=…)
#   .ci/services.sh stop          stop exactly the processes `start` recorded, by PID
#                                 (the engine's data root stays, so images survive; the registry
#                                 starts empty each time)
#   .ci/services.sh status        say what runs; exit 0 only when both answer
#   .ci/services.sh env           print $D/env (for `set -a; . <(…); set +a`)
#   .ci/services.sh busybox-image build somlier-test/busybox:latest (FROM scratch + busybox-static)
#   .ci/services.sh base-image    import somlier-test/python:3.11-bookworm from a cached
#                                 `debootstrap --variant=minbase` root (built once, then cached)
#
# Settings (environment):
#   SOMLIER_SERVICES_DIR   state dir $D (default /tmp/somlier-services)
#   SOMLIER_CACHE          cache for the base image tarball (default ~/.cache/somlier-test)
#   SOMLIER_REGISTRY_PORT  preferred registry port (default 5000; a free one if it is taken)
#   SOMLIER_STORAGE_DRIVER force a storage driver (default: overlay2, falling back to vfs)
#   SOMLIER_DEBIAN_MIRROR  debootstrap mirror (default http://deb.debian.org/debian)
#
# $D/owner and $D/users.lock belong to tests/integration/services.py (which test run started the
# services, and who still uses them); this script only clears owner on start and stop.
#
# Machines here have no Docker Hub and must not touch a bridge network: containers and builds use
# `--network host` (or none), and every listener is on 127.0.0.1.
set -euo pipefail

D="${SOMLIER_SERVICES_DIR:-/tmp/somlier-services}"
CACHE="${SOMLIER_CACHE:-${HOME:-/root}/.cache/somlier-test}"
MIRROR="${SOMLIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PY_VERSION=3.11 # what bookworm ships (3.11.2); checked when the root is built
BASE_TAG="somlier-test/python:${PY_VERSION}-${SUITE}"
BASE_RECIPE=v1 # bump when the package list below changes: the cached tarball is rebuilt
BASE_PACKAGES=python3,python3-venv,python3-pip,ca-certificates
BASE_TARBALL="$CACHE/python-${PY_VERSION}-${SUITE}-minbase-${BASE_RECIPE}.tar"
BUSYBOX_TAG=somlier-test/busybox:latest

# Debian's client matches Debian's engine; a newer `docker` elsewhere on PATH works too.
if [ -x /usr/bin/docker ]; then DOCKER_CLI=/usr/bin/docker; else DOCKER_CLI=docker; fi

log() { printf 'services: %s\n' "$*" >&2; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 1
}

dk() { "$DOCKER_CLI" -H "unix://$D/docker.sock" "$@"; }

# pid_alive PIDFILE EXE: the recorded PID runs and is still the program we started (not a reuse).
pid_alive() {
  local pidfile=$1 exe=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$exe" || return 1
  # a zombie is not alive
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

registry_answers() {
  local addr=$1
  python3 - "$addr" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}/v2/", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

engine_answers() { dk info >/dev/null 2>&1; }

running() {
  pid_alive "$D/dockerd.pid" dockerd && pid_alive "$D/registry.pid" docker-registry &&
    [ -s "$D/registry.addr" ] && engine_answers && registry_answers "$(cat "$D/registry.addr")"
}

# One `start`/`stop`/image build at a time per state dir (pytest-xdist workers may race).
lock() {
  mkdir -p "$D"
  exec 9>"$D/.lock"
  flock 9
}

cmd_install() {
  export DEBIAN_FRONTEND=noninteractive
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /usr/bin/docker ] || need+=(docker.io)
  command -v docker-registry >/dev/null || need+=(docker-registry)
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
    need+=(busybox-static)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v flock >/dev/null || need+=(util-linux)
  if [ ${#need[@]} -eq 0 ]; then
    return 0
  fi
  log "installing ${need[*]}"
  apt-get update -qq
  # policy-rc.d on these machines keeps the packages' own services from starting: we start ours.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

start_dockerd() {
  local driver=$1
  rm -f "$D/pid" "$D/dockerd.pid"
  mkdir -p "$D/data" "$D/exec"
  setsid dockerd \
    --host="unix://$D/docker.sock" \
    --data-root="$D/data" \
    --exec-root="$D/exec" \
    --pidfile="$D/pid" \
    --storage-driver="$driver" \
    --iptables=false --ip6tables=false --bridge=none \
    </dev/null >>"$D/dockerd.log" 2>&1 9>&- &
  echo $! >"$D/dockerd.pid"
  local _
  for _ in $(seq 1 120); do
    if engine_answers; then
      echo "$driver" >"$D/storage-driver"
      return 0
    fi
    pid_alive "$D/dockerd.pid" dockerd || break
    sleep 0.5
  done
  return 1
}

stop_pid() { # PIDFILE EXE NAME
  local pidfile=$1 exe=$2 name=$3 pid _
  if pid_alive "$pidfile" "$exe"; then
    pid=$(cat "$pidfile")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      pid_alive "$pidfile" "$exe" || break
      sleep 0.5
    done
    if pid_alive "$pidfile" "$exe"; then
      log "$name (pid $pid) ignored SIGTERM for 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$pidfile"
}

# Undo mounts left under a dir (dockerd's data-root bind and netns mounts, debootstrap's proc/sys)
# so that nothing is left mounted and nothing is deleted through a mount.
unmount_under() {
  local m
  awk -v d="${1%/}/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

free_port() { # PREFERRED: print it if it can be bound on 127.0.0.1, else a free one
  python3 - "$1" <<'EOF'
import socket, sys
def bindable(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the registry does: TIME_WAIT is no use
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
print(bindable(int(sys.argv[1])) or bindable(0))
EOF
}

start_registry() {
  local port addr _
  port=$(free_port "${SOMLIER_REGISTRY_PORT:-5000}")
  addr="127.0.0.1:$port"
  # Each start serves an empty registry (the engine's images, the slow part, are kept).
  [ -f "$D/registry.yml" ] && rm -rf "$D/registry"
  mkdir -p "$D/registry"
  cat >"$D/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $D/registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $addr
EOF
  setsid docker-registry serve "$D/registry.yml" </dev/null >>"$D/registry.log" 2>&1 9>&- &
  echo $! >"$D/registry.pid"
  for _ in $(seq 1 60); do
    if registry_answers "$addr"; then
      echo "$addr" >"$D/registry.addr"
      return 0
    fi
    pid_alive "$D/registry.pid" docker-registry || break
    sleep 0.25
  done
  return 1
}

cmd_start() {
  [ "$(id -u)" = 0 ] || die "the Docker engine needs root (this is $(id -un))"
  for tool in dockerd docker-registry; do
    command -v "$tool" >/dev/null || die "$tool is not installed: run '$0 install' first"
  done
  lock
  if running; then
    log "already running ($D/env)"
    cat "$D/env"
    return 0
  fi
  # Leftovers of a run that died: stop what it recorded, then start afresh.
  stop_pid "$D/registry.pid" docker-registry registry
  stop_pid "$D/dockerd.pid" dockerd dockerd
  unmount_under "$D"
  rm -f "$D/env" "$D/registry.addr" "$D/owner"

  local t0 driver ok=""
  t0=$(date +%s.%N)
  local drivers=(overlay2 vfs)
  [ -n "${SOMLIER_STORAGE_DRIVER:-}" ] && drivers=("$SOMLIER_STORAGE_DRIVER")
  for driver in "${drivers[@]}"; do
    if start_dockerd "$driver"; then
      ok=1
      break
    fi
    log "dockerd did not start with --storage-driver=$driver; last log lines:"
    tail -n 5 "$D/dockerd.log" >&2 || true
    stop_pid "$D/dockerd.pid" dockerd dockerd
    unmount_under "$D"
  done
  [ -n "$ok" ] || die "no Docker engine could start here (log: $D/dockerd.log)"
  log "dockerd up (storage driver $driver) in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)") s"

  if ! start_registry; then
    tail -n 5 "$D/registry.log" >&2 || true
    stop_pid "$D/registry.pid" docker-registry registry
    stop_pid "$D/dockerd.pid" dockerd dockerd
    unmount_under "$D"
    die "the registry did not start (log: $D/registry.log)"
  fi
  log "registry up on $(cat "$D/registry.addr")"

  {
    echo "DOCKER_HOST=unix://$D/docker.sock"
    echo "SOMLIER_TEST_REGISTRY=$(cat "$D/registry.addr")"
  } >"$D/env.tmp"
  mv "$D/env.tmp" "$D/env"
  cat "$D/env"
}

cmd_stop() {
  lock
  rm -f "$D/env"
  stop_pid "$D/registry.pid" docker-registry registry
  stop_pid "$D/dockerd.pid" dockerd dockerd
  rm -f "$D/pid" "$D/registry.addr" "$D/owner"
  # dockerd unmounts its layers when it stops, not its netns mount; one killed hard leaves more.
  unmount_under "$D"
}

cmd_status() {
  if running; then
    echo "running: $(tr '\n' ' ' <"$D/env")storage-driver=$(cat "$D/storage-driver" 2>/dev/null)"
  else
    echo "not running ($D)"
    return 1
  fi
}

need_engine() {
  running || die "services are not running: run '$0 start' first"
}

cmd_busybox_image() {
  need_engine
  lock
  if dk image inspect "$BUSYBOX_TAG" >/dev/null 2>&1; then
    echo "$BUSYBOX_TAG"
    return 0
  fi
  local bb=/bin/busybox ctx applet
  [ -x "$bb" ] || die "$bb is missing: run '$0 install'"
  # busybox-static and busybox both ship /bin/busybox: only the static one runs FROM scratch.
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
    die "$bb is not busybox-static's: run '$0 install'"
  ctx=$(mktemp -d)
  mkdir -p "$ctx/root/bin" "$ctx/root/tmp" "$ctx/root/etc"
  cp "$bb" "$ctx/root/bin/busybox"
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$ctx/root/bin/$applet"
  done
  chmod 1777 "$ctx/root/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$ctx/root/etc/passwd"
  echo 'root:x:0:' >"$ctx/root/etc/group"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY root/ /
ENV PATH=/bin
CMD ["/bin/sh"]
EOF
  dk build --network host -q -t "$BUSYBOX_TAG" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "$BUSYBOX_TAG"
}

build_base_tarball() {
  local root t0 pyver
  mkdir -p "$CACHE"
  for root in "$CACHE"/rootfs.*; do # a build killed hard; we hold the lock, so none runs now
    [ -d "$root" ] || continue
    unmount_under "$root"
    rm -rf --one-file-system "$root"
  done
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  chmod 755 "$root" # it becomes the image's /
  # debootstrap mounts proc and sys in the root: never leave them, nor delete through them.
  cleanup_root() {
    unmount_under "$root"
    rm -rf --one-file-system "$root"
  }
  trap cleanup_root EXIT
  t0=$(date +%s)
  log "debootstrap --variant=minbase $SUITE with $BASE_PACKAGES (once; cached in $CACHE)"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$root" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed (log: $CACHE/debootstrap.log)"
  fi
  pyver=$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$pyver" = "$PY_VERSION" ] || die "$SUITE ships Python $pyver, not $PY_VERSION: fix PY_VERSION"
  # Smaller and reproducible-ish: no package caches, no apt lists, no logs.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
  printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$root/etc/apt/sources.list"
  tar -C "$root" --numeric-owner -cf "$BASE_TARBALL.partial" .
  mv "$BASE_TARBALL.partial" "$BASE_TARBALL"
  log "base root built in $(($(date +%s) - t0)) s: $BASE_TARBALL ($(du -h "$BASE_TARBALL" | cut -f1))"
  cleanup_root
  trap - EXIT
}

cmd_base_image() {
  need_engine
  lock
  if [ "$(dk image inspect --format '{{ index .Config.Labels "org.somlier.test.recipe" }}' \
    "$BASE_TAG" 2>/dev/null)" = "$BASE_RECIPE" ]; then
    echo "$BASE_TAG"
    return 0
  fi
  [ -s "$BASE_TARBALL" ] || build_base_tarball
  local t0
  t0=$(date +%s)
  dk import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL org.somlier.test.recipe=$BASE_RECIPE" \
    --message "debootstrap --variant=minbase $SUITE + $BASE_PACKAGES ($BASE_RECIPE)" \
    "$BASE_TARBALL" "$BASE_TAG" >/dev/null
  log "imported $BASE_TAG in $(($(date +%s) - t0)) s"
  echo "$BASE_TAG"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cat "$D/env" ;;
  busybox-image) cmd_busybox_image ;;
  base-image) cmd_base_image ;;
  *)
    sed -n '2,20s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
