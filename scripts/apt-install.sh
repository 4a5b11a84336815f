# shellcheck shell=bash
# Sourced by the set-up scripts: Debian packages installed as root with apt-get.
#   can_apt            true when this is root and apt-get exists
#   apt_install PKG…   installs them, waiting for another apt's lock (scripts/setup.sh installs
#                      beside mmdebstrap and npm ci); `apt-get update` only when the install fails
#                      (a fresh machine's empty lists). Its output shows only on the second failure.
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  local apt=(apt-get -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$@" >/dev/null 2>&1 && return 0
  DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "$@" >/dev/null
}
