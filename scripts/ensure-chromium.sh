#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the report test (test/unit/report/
# html-report-browser.test.ts) and `npm run bench:report` open report.html in it, headless,
# through playwright-core (never a downloaded browser). Idempotent; quiet and fast when it
# is there. Installs only as root with apt-get; otherwise says what to do and goes on
# (meshbench itself does not need a browser).
set -euo pipefail

log() { printf 'meshbench setup: %s\n' "$*" >&2; }

[ -x /usr/bin/chromium ] && exit 0
# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
if ! can_apt; then
  log "warning: /usr/bin/chromium is missing; the report's browser test needs it (Debian/Ubuntu: sudo apt-get install -y chromium)"
  exit 0
fi
log "apt-get install -y chromium"
apt_install chromium
[ -x /usr/bin/chromium ] || { log "error: installing chromium did not give /usr/bin/chromium"; exit 1; }
