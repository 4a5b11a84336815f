#!/usr/bin/env bash
# Builds the emulated SSH hosts of the sandbox (`npm run sandbox -- up`), from Debian packages only:
#   meshbench/sandbox-host:latest           sshd + Debian's docker.io (inner dockerd, vfs storage)
#   meshbench/sandbox-host-nodocker:latest  sshd, no Docker; an offline apt repository of docker.io and
#                                           its dependencies at /opt/meshbench-debs is the only apt source,
#                                           so remote-network's Docker install path runs for real.
# Root filesystems are made by mmdebstrap and cached under .meshbench/cache keyed by their recipe.
# Usage: scripts/build-sandbox-image.sh [host|nodocker|all|rootfs]   (default: all)
#        rootfs: only the root filesystems `all` lacks (both at once; no image is built)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'meshbench sandbox images: %s\n' "$*" >&2; }
die() { printf 'meshbench sandbox images: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh
# shellcheck source=scripts/image-build.sh
. scripts/image-build.sh

CACHE=.meshbench/cache
mkdir -p "$CACHE"
HOST_IMAGE=${MESHBENCH_SANDBOX_IMAGE:-meshbench/sandbox-host:latest}
NODOCKER_IMAGE=${MESHBENCH_SANDBOX_NODOCKER_IMAGE:-meshbench/sandbox-host-nodocker:latest}
COMMON=openssh-server,iproute2,iptables,procps,ca-certificates,sudo,gzip
# Bump when the recipe below changes in a way the package lists do not show.
RECIPE_VERSION=2

ensure_mmdebstrap() {
  have mmdebstrap && return 0
  if can_apt; then
    log "installing mmdebstrap"
    apt_install mmdebstrap
  else
    die "mmdebstrap is missing: install it (apt-get install mmdebstrap), then re-run."
  fi
}

# rootfs_key NAME INCLUDE [extra mmdebstrap args...] -> the recipe's key (no build)
rootfs_key() {
  local name=$1 include=$2
  shift 2
  printf '%s|%s|%s|%s|bookworm' "$RECIPE_VERSION" "$name" "$include" "$*" | sha256sum | cut -c1-16
}

# rootfs NAME INCLUDE [extra mmdebstrap args...] -> prints the cached tarball path
rootfs() {
  local name=$1 include=$2
  local key
  key=$(rootfs_key "$@")
  shift 2
  local tar="$CACHE/rootfs-sandbox-$name-$key.tar"
  if [ ! -s "$tar" ]; then
    ensure_mmdebstrap
    log "building rootfs $tar with mmdebstrap (about 1-2 min, once)"
    mmdebstrap --quiet --format=tar --variant=apt --include="$include" "$@" bookworm "$tar.tmp" >&2 ||
      die "mmdebstrap failed for $name; see its output above"
    mv "$tar.tmp" "$tar"
  fi
  printf '%s\n' "$tar"
}

# Writes the build context shared by both images.
context() {
  local ctx=$1
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp sidecars/sandbox-host/Dockerfile "$ctx/Dockerfile"
  cat >"$ctx/sandbox-entrypoint" <<'SH'
#!/bin/sh
# Emulated remote host: fresh host keys, dockerd when installed, sshd in the foreground.
set -e
[ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A >/dev/null
mkdir -p /run/sshd
if command -v dockerd >/dev/null 2>&1; then
  nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
fi
exec /usr/sbin/sshd -D -e
SH
  chmod 755 "$ctx/sandbox-entrypoint"
}

# The image's recipe key: the rootfs recipe and the build context's (this script, the Dockerfile).
image_key() { { printf '%s\n' "$1"; cat scripts/build-sandbox-image.sh sidecars/sandbox-host/Dockerfile; } | sha256sum | cut -c1-16; }

# build IMAGE ROOTFS_IMAGE KEY NAME INCLUDE [mmdebstrap args...]: nothing when IMAGE carries KEY
# (a clean clone on an engine that has the images builds no rootfs), else the rootfs (cached
# tarball), its import, and the image.
build() {
  local image=$1 rootfs_image=$2 key=$3
  shift 3
  [ "$(image_recipe "$image")" = "$key" ] && return 0
  local rootfs_tar
  rootfs_tar=$(rootfs "$@")
  docker image rm "$rootfs_image" >/dev/null 2>&1 || true
  log "importing $rootfs_tar as $rootfs_image"
  docker import --change "LABEL meshbench.image=sandbox-rootfs" "$rootfs_tar" "$rootfs_image" >/dev/null
  local ctx=.meshbench/build/sandbox-host
  context "$ctx"
  log "building $image"
  docker_build "$image" "$ctx" --build-arg ROOTFS_IMAGE="$rootfs_image" \
    --label meshbench.image=sandbox-host --label meshbench.recipe="$key"
}

# The `build` function's first steps only: the rootfs tarball when IMAGE is not the recipe's.
rootfs_only() {
  local image=$1 rootfs_image=$2 key=$3
  shift 3
  [ "$(image_recipe "$image")" = "$key" ] || rootfs "$@" >/dev/null
}

# build_host / build_nodocker [build|rootfs_only]
build_host() {
  local args=(docker "$COMMON,docker.io")
  "${1:-build}" "$HOST_IMAGE" local/sandbox-rootfs:docker "$(image_key "$(rootfs_key "${args[@]}")")" "${args[@]}"
}

build_nodocker() {
  # docker.io and its dependencies are downloaded into /opt/meshbench-debs and indexed there; that
  # folder becomes the only apt source, so `apt-get install docker.io` works with no network.
  local args=(nodocker "$COMMON"
    --customize-hook='chroot "$1" apt-get install --download-only -y -qq --no-install-recommends docker.io >/dev/null'
    --customize-hook='mkdir -p "$1/opt/meshbench-debs" && mv "$1"/var/cache/apt/archives/*.deb "$1/opt/meshbench-debs/"'
    --customize-hook='cd "$1/opt/meshbench-debs" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages'
    --customize-hook='rm -f "$1"/etc/apt/sources.list.d/* && echo "deb [trusted=yes] file:/opt/meshbench-debs ./" >"$1/etc/apt/sources.list"'
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/*')
  "${1:-build}" "$NODOCKER_IMAGE" local/sandbox-rootfs:nodocker "$(image_key "$(rootfs_key "${args[@]}")")" "${args[@]}"
}

case "${1:-all}" in
  host) build_host ;;
  nodocker) build_nodocker ;;
  all) build_host; build_nodocker ;;
  rootfs)
    build_host rootfs_only &
    host=$!
    build_nodocker rootfs_only || { wait "$host"; exit 1; }
    wait "$host"
    ;;
  *) die "unknown image set '$1' (use host, nodocker, all or rootfs)" ;;
esac
