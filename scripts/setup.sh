#!/usr/bin/env bash
# Every set-up step a fresh machine lacks, idempotent and fast when all is there:
# npm dependencies, the build, a Docker engine (installed and started when root on
# Debian/Ubuntu), and the images (built from local material; no registry needed).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'meshbench setup: %s (t+%ss)\n' "$*" "$SECONDS" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "building"
npm run --silent build
bash scripts/ensure-docker.sh
bash scripts/build-images.sh "${MESHBENCH_IMAGES:-refnode}"
# Headless Chromium for the HTML report's browser test.
bash scripts/ensure-chromium.sh
# The monitoring tests' real Prometheus and InfluxDB (with every image: the test setup).
if [ "${MESHBENCH_IMAGES:-refnode}" = all ] || [ "${MESHBENCH_MONITORING:-0}" = 1 ]; then
  bash scripts/ensure-monitoring.sh
fi
log "ready"
