#!/usr/bin/env bash
# Builds the images meshbench needs, with no registry access:
#   local/debian-minbase:bookworm  a minimal Debian rootfs made by mmdebstrap (cached tarball)
#   meshbench/refnode:latest       the reference node: this machine's node binary + the bundled refnode
#   meshbench/etcd:3.4             etcd and etcdctl from this machine's Debian packages (scripts/ensure-etcd.sh)
#   meshbench/nethelper:latest     tc, iptables, tcpdump, ping and nfq-delay (native/nfq-delay, compiled here)
# On a machine that can pull, set MESHBENCH_BASE_IMAGE=debian:bookworm-slim to skip mmdebstrap.
# Usage: scripts/build-images.sh [refnode|etcd|nethelper|base|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'meshbench images: %s\n' "$*" >&2; }
die() { printf 'meshbench images: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

CACHE=.meshbench/cache
mkdir -p "$CACHE"
BASE_IMAGE=${MESHBENCH_BASE_IMAGE:-local/debian-minbase:bookworm}
REFNODE_IMAGE=${MESHBENCH_REFNODE_IMAGE:-meshbench/refnode:latest}
ETCD_IMAGE=meshbench/etcd:3.4
NETHELPER_IMAGE=meshbench/nethelper:latest
NETHELPER_BASE=local/debian-nethelper:bookworm
NETHELPER_INCLUDE=iproute2,iptables,tcpdump,libnetfilter-queue1,procps,iputils-ping
NFQ_DELAY_CFLAGS="-O2 -Wall -Wextra -Werror"
NFQ_DELAY_LIBS="-lnetfilter_queue -lnfnetlink"
what=${1:-all}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Builds IMAGE from an mmdebstrap recipe, caching the tarball keyed by the recipe.
debootstrap_image() {
  local image=$1 variant=$2 include=$3
  image_exists "$image" && return 0
  local key
  key=$(printf '%s|%s|bookworm' "$variant" "$include" | sha256sum | cut -c1-16)
  local tar="$CACHE/rootfs-$variant-$key.tar"
  if [ ! -s "$tar" ]; then
    if ! have mmdebstrap; then
      if [ "$(id -u)" = 0 ] && have apt-get; then
        log "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
      else
        die "mmdebstrap is missing and no base image $image exists: install mmdebstrap, or set MESHBENCH_BASE_IMAGE to an image you can pull."
      fi
    fi
    log "building rootfs $tar with mmdebstrap (variant $variant; about 20-60 s, once)"
    mmdebstrap --quiet --format=tar --variant="$variant" --include="$include" bookworm "$tar.tmp" >&2 ||
      die "mmdebstrap failed; see its output above"
    mv "$tar.tmp" "$tar"
  fi
  log "importing $tar as $image"
  docker import --change 'CMD ["/bin/bash"]' "$tar" "$image" >/dev/null
}

build_base() {
  if [ "$BASE_IMAGE" = local/debian-minbase:bookworm ]; then
    debootstrap_image "$BASE_IMAGE" minbase libstdc++6,ca-certificates
  elif ! image_exists "$BASE_IMAGE"; then
    docker pull "$BASE_IMAGE" >&2 || die "cannot pull $BASE_IMAGE"
  fi
}

build_refnode() {
  build_base
  [ -f dist/refnode/refnode.js ] || die "dist/refnode/refnode.js is missing: run npm run build first"
  local ctx=.meshbench/build/refnode
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$(command -v node)" "$ctx/node"
  cp dist/refnode/refnode.js "$ctx/refnode.js"
  cp compose/Dockerfile.refnode "$ctx/Dockerfile"
  log "building $REFNODE_IMAGE from $BASE_IMAGE"
  # The build's own chatter (e.g. the legacy builder's deprecation notice) is shown only on failure.
  if ! docker build -q --build-arg BASE_IMAGE="$BASE_IMAGE" --label meshbench.image=refnode \
    -t "$REFNODE_IMAGE" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    die "docker build of $REFNODE_IMAGE failed"
  fi
}

# etcd from this machine's packages. Rebuilt only when the binaries change: the image
# carries their hash as a label, so a cached image is reused across runs and CI.
build_etcd() {
  bash scripts/ensure-etcd.sh
  local etcd etcdctl key
  etcd=$(command -v etcd) etcdctl=$(command -v etcdctl)
  key=$(cat "$etcd" "$etcdctl" compose/Dockerfile.etcd | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "meshbench.recipe"}}' "$ETCD_IMAGE" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  build_base
  local ctx=.meshbench/build/etcd
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$etcd" "$ctx/etcd"
  cp "$etcdctl" "$ctx/etcdctl"
  cp compose/Dockerfile.etcd "$ctx/Dockerfile"
  log "building $ETCD_IMAGE from $BASE_IMAGE ($("$etcd" --version | head -1))"
  if ! docker build -q --build-arg BASE_IMAGE="$BASE_IMAGE" --label meshbench.image=etcd \
    --label meshbench.recipe="$key" -t "$ETCD_IMAGE" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    die "docker build of $ETCD_IMAGE failed"
  fi
}

# Installs the compiler and libnetfilter-queue's headers for nfq-delay (when root with apt), or stops.
ensure_nfq_toolchain() {
  have gcc && [ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] && return 0
  if [ "$(id -u)" = 0 ] && have apt-get; then
    log "installing gcc and libnetfilter-queue-dev (to compile nfq-delay)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev libnetfilter-queue-dev >/dev/null
  else
    die "gcc or libnetfilter-queue-dev is missing (needed to compile nfq-delay): apt-get install gcc libnetfilter-queue-dev, then re-run."
  fi
}

# The network helper: an mmdebstrap rootfs with the tools, plus nfq-delay compiled on this
# machine (Debian bookworm, the image's release, so its libc and libnetfilter-queue match).
# Rebuilt only when the recipe (C source, Dockerfile, package list, flags) changes.
build_nethelper() {
  local key
  key=$({
    cat native/nfq-delay/nfq-delay.c compose/Dockerfile.nethelper
    printf '%s|%s|%s' "$NETHELPER_INCLUDE" "$NFQ_DELAY_CFLAGS" "$NFQ_DELAY_LIBS"
  } | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "meshbench.recipe"}}' "$NETHELPER_IMAGE" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  ensure_nfq_toolchain
  # The base is re-imported from its cached tarball (keyed by the package list) on each rebuild,
  # so a changed package list cannot leave a stale base behind.
  docker image rm "$NETHELPER_BASE" >/dev/null 2>&1 || true
  debootstrap_image "$NETHELPER_BASE" minbase "$NETHELPER_INCLUDE"
  local ctx=.meshbench/build/nethelper
  rm -rf "$ctx"; mkdir -p "$ctx"
  # shellcheck disable=SC2086 # the flags are words
  gcc $NFQ_DELAY_CFLAGS -o "$ctx/nfq-delay" native/nfq-delay/nfq-delay.c $NFQ_DELAY_LIBS ||
    die "compiling native/nfq-delay/nfq-delay.c failed; see the compiler's output above"
  cp compose/Dockerfile.nethelper "$ctx/Dockerfile"
  log "building $NETHELPER_IMAGE from $NETHELPER_BASE"
  if ! docker build -q --build-arg BASE_IMAGE="$NETHELPER_BASE" --label meshbench.image=nethelper \
    --label meshbench.recipe="$key" -t "$NETHELPER_IMAGE" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    die "docker build of $NETHELPER_IMAGE failed"
  fi
  # A binary built against a newer libc than the image's fails here, not in a test.
  docker run --rm "$NETHELPER_IMAGE" nfq-delay -h >/dev/null 2>"$ctx.log" || {
    cat "$ctx.log" >&2
    die "nfq-delay does not run in $NETHELPER_IMAGE (compiled on $(. /etc/os-release && echo "$PRETTY_NAME"); the image is Debian bookworm): build on bookworm"
  }
}

case "$what" in
  base) build_base ;;
  refnode) build_refnode ;;
  etcd) build_etcd ;;
  nethelper) build_nethelper ;;
  all)
    build_refnode
    build_etcd
    build_nethelper
    if [ -x scripts/build-sandbox-image.sh ]; then scripts/build-sandbox-image.sh; fi
    ;;
  *) die "unknown image set '$what' (use refnode, etcd, nethelper, base or all)" ;;
esac
