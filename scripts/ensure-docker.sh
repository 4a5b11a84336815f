#!/usr/bin/env bash
# Makes sure a Docker engine answers and a compose CLI exists.
# On a bare Debian/Ubuntu machine where we are root, installs Debian's docker.io
# (and docker-compose v1 when the v2 plugin is absent) and starts dockerd in the
# background. Otherwise says exactly what to do. Idempotent and quiet when all is there.
set -euo pipefail

log() { printf 'meshbench setup: %s\n' "$*" >&2; }
die() { printf 'meshbench setup: error: %s\n' "$*" >&2; exit 1; }

DOCKERD_LOG=${MESHBENCH_DOCKERD_LOG:-/var/log/meshbench-dockerd.log}
is_root() { [ "$(id -u)" = 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_updated=0
apt_install() {
  is_root && have apt-get || return 1
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_answers() { have docker && timeout 10 docker info >/dev/null 2>&1; }

compose_there() { docker compose version >/dev/null 2>&1 || (have docker-compose && docker-compose version >/dev/null 2>&1); }

if ! engine_answers; then
  if ! have dockerd; then
    # Debian's docker.io has no compose plugin: docker-compose comes in the same install
    extra=()
    compose_there || extra+=(docker-compose)
    apt_install docker.io iptables "${extra[@]}" ||
      die "no Docker engine here and cannot install one (need root and apt-get). Install Docker (https://docs.docker.com/engine/install/), start it, then re-run."
  fi
  if ! have docker; then
    die "dockerd is installed but the docker CLI is missing; install the docker client package."
  fi
  if [ -S /var/run/docker.sock ] && ! engine_answers && pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running but does not answer yet; waiting"
  elif ! pgrep -x dockerd >/dev/null 2>&1; then
    if ! is_root; then
      die "the Docker engine is not running. Start it (sudo systemctl start docker, or sudo dockerd &) and make sure your user may use /var/run/docker.sock, then re-run."
    fi
    if have systemctl && systemctl is-system-running >/dev/null 2>&1; then
      systemctl start docker || true
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      log "starting dockerd in the background (log: $DOCKERD_LOG)"
      rm -f /var/run/docker.pid
      nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
      disown || true
    fi
  fi
  for _ in $(seq 1 120); do
    engine_answers && break
    sleep 0.5
  done
  engine_answers || die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
fi

if ! compose_there; then
  apt_install docker-compose ||
    die "no compose CLI: install the Docker Compose v2 plugin (docker compose) or docker-compose, then re-run."
fi
exit 0
