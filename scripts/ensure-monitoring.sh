#!/usr/bin/env bash
# Makes sure this machine has Prometheus and InfluxDB 1.x (Debian's prometheus 2.42 and
# influxdb 1.6): the monitoring tests start their own instances of them on loopback, with
# their own temp data folders and free ports. Idempotent; quiet and fast when both are there.
# Installs only as root with apt-get; otherwise says what to do. The services the packages
# would start are not wanted, and are stopped if they did start.
set -euo pipefail

log() { printf 'meshbench setup: %s\n' "$*" >&2; }
die() { printf 'meshbench setup: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

packages=()
have prometheus || packages+=(prometheus)
have influxd || packages+=(influxdb)
[ "${#packages[@]}" -eq 0 ] && exit 0

# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
if ! can_apt; then
  die "prometheus and influxd are needed by the monitoring tests (missing: ${packages[*]}); install them (Debian/Ubuntu: sudo apt-get install -y prometheus influxdb, or their release binaries on PATH), then re-run."
fi
log "apt-get install -y ${packages[*]}"
apt_install "${packages[@]}"
# The packages' services are not wanted: the tests start their own instances.
for service in prometheus influxdb; do
  if have systemctl && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" >/dev/null 2>&1 || true
    systemctl disable "$service" >/dev/null 2>&1 || true
  elif have service && [ -x "/etc/init.d/$service" ]; then
    service "$service" stop >/dev/null 2>&1 || true
  fi
done
have prometheus && have influxd || die "installing ${packages[*]} did not give prometheus and influxd on PATH"
