#!/usr/bin/env bash
# Makes sure this machine has etcd and etcdctl (Debian's etcd-server and etcd-client,
# etcd 3.4): the etcd tests run a real member from it, and scripts/build-images.sh
# copies the binaries into the meshbench/etcd image. Idempotent; quiet and fast when
# both are there. Installs only as root with apt-get; otherwise says what to do.
set -euo pipefail

log() { printf 'meshbench setup: %s\n' "$*" >&2; }
die() { printf 'meshbench setup: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

packages=()
have etcd || packages+=(etcd-server)
have etcdctl || packages+=(etcd-client)
[ "${#packages[@]}" -eq 0 ] && exit 0

# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
if ! can_apt; then
  die "etcd and etcdctl are needed (missing: ${packages[*]}); install them (Debian/Ubuntu: sudo apt-get install -y etcd-server etcd-client, or etcd's release binaries on PATH), then re-run."
fi
log "apt-get install -y ${packages[*]}"
apt_install "${packages[@]}"
# The package's service is not wanted: the tests start their own members.
if pgrep -x etcd >/dev/null 2>&1 && [ -f /etc/default/etcd ] && have service; then
  service etcd stop >/dev/null 2>&1 || true
fi
have etcd && have etcdctl || die "installing ${packages[*]} did not give etcd and etcdctl on PATH"
