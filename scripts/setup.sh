#!/usr/bin/env bash
# Every set-up step a fresh machine lacks, idempotent and fast when all is there:
# npm dependencies, the build, a Docker engine (installed and started when root on
# Debian/Ubuntu), and the images (built from local material; no registry needed).
#
# Two lanes side by side, then the images: the project's (npm ci, the build) and the system's
# (Debian packages, the engine, and with every image the root filesystems mmdebstrap makes,
# all at once beside the packages). Each step is mostly one core's work; one after the other,
# a fresh machine took 214 s here (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'meshbench setup: %s (t+%ss)\n' "$*" "$SECONDS" >&2; }
images=${MESHBENCH_IMAGES:-refnode}
# The monitoring tests' real Prometheus and InfluxDB (with every image: the test setup).
monitoring=0
if [ "$images" = all ] || [ "${MESHBENCH_MONITORING:-0}" = 1 ]; then monitoring=1; fi

project_lane() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  log "building"
  npm run --silent build
  log "built"
}

system_lane() {
  bash scripts/ensure-docker.sh
  if [ "$images" != all ]; then
    bash scripts/ensure-chromium.sh # headless Chromium for the HTML report's browser test
    [ "$monitoring" = 0 ] || bash scripts/ensure-monitoring.sh
    return
  fi
  bash scripts/build-images.sh tools
  bash scripts/build-images.sh rootfs &
  local rootfs=$! packages=0
  # (chained with &&: set -e does not apply inside a list tested by ||)
  bash scripts/ensure-etcd.sh && bash scripts/ensure-chromium.sh && bash scripts/ensure-monitoring.sh ||
    packages=$?
  wait "$rootfs" && [ "$packages" = 0 ]
}

project_lane &
project=$!
system_lane &
system=$!
failed=0
wait "$project" || failed=1
wait "$system" || failed=1
if [ "$failed" = 1 ]; then
  log "failed: see the first error above"
  exit 1
fi
bash scripts/build-images.sh "$images"
log "ready"
