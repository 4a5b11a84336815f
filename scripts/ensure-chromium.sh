#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the report test (test/unit/report/
# html-report-browser.test.ts) and `npm run bench:report` open report.html in it, headless,
# through playwright-core (never a downloaded browser). Idempotent; quiet and fast when it
# is there. Installs only as root with apt-get; otherwise says what to do and goes on
# (meshbench itself does not need a browser).
set -euo pipefail

log() { printf 'meshbench setup: %s\n' "$*" >&2; }

[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "warning: /usr/bin/chromium is missing; the report's browser test needs it (Debian/Ubuntu: sudo apt-get install -y chromium)"
  exit 0
fi
log "apt-get install -y chromium"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -x /usr/bin/chromium ] || { log "error: installing chromium did not give /usr/bin/chromium"; exit 1; }
