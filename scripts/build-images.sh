#!/usr/bin/env bash
# Builds the images meshbench needs, with no registry access:
#   local/debian-minbase:bookworm  a minimal Debian rootfs made by mmdebstrap (cached tarball)
#   meshbench/refnode:latest       the reference node: this machine's node binary + the bundled refnode
#   meshbench/etcd:3.4             etcd and etcdctl from this machine's Debian packages (scripts/ensure-etcd.sh)
# On a machine that can pull, set MESHBENCH_BASE_IMAGE=debian:bookworm-slim to skip mmdebstrap.
# Usage: scripts/build-images.sh [refnode|etcd|base|all]   (default: all)
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

case "$what" in
  base) build_base ;;
  refnode) build_refnode ;;
  etcd) build_etcd ;;
  all)
    build_refnode
    build_etcd
    if [ -x scripts/build-sandbox-image.sh ]; then scripts/build-sandbox-image.sh; fi
    ;;
  *) die "unknown image set '$what' (use refnode, etcd, base or all)" ;;
esac
