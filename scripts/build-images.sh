#!/usr/bin/env bash
# Builds the images meshbench needs, with no registry access:
#   local/debian-minbase:bookworm  a minimal Debian rootfs made by mmdebstrap (cached tarball)
#   meshbench/refnode:latest       the reference node: FROM scratch, this machine's node binary (stripped),
#                                  the libraries it links and the bundled refnode (lean_node_image below);
#                                  MESHBENCH_REFNODE_BASE=debian builds it on the Debian base instead (a shell)
#   meshbench/etcd:3.4             etcd and etcdctl from this machine's Debian packages (scripts/ensure-etcd.sh)
#   meshbench/nethelper:latest     tc, iptables, tcpdump, ping and nfq-delay (sidecars/nethelper/nfq-delay, compiled here)
#   meshbench/loadclient:latest    the load client (--load-clients colocated): lean, dist/loadclient/*.js
#   meshbench/libp2p-gossipsub:latest, meshbench/crdt-sync:latest
#                                  the P2P systems under test (systems/*/): npm ci there, a bundle, lean
# On a machine that can pull, set MESHBENCH_BASE_IMAGE=debian:bookworm-slim to skip mmdebstrap.
# Usage: scripts/build-images.sh [refnode|etcd|nethelper|loadclient|base|all|libp2p|crdt]   (default: all)
#        scripts/build-images.sh lean IMAGE DOCKERFILE ENTRY_JS [FILE...]   (any bundled app: lean_node_image)
#        scripts/build-images.sh tools    mmdebstrap, gcc and libnetfilter-queue's headers (apt, as root)
#        scripts/build-images.sh rootfs   only the root filesystems `all` lacks (mmdebstrap tarballs, all
#                                         at once; no image is built): scripts/setup.sh starts it beside
#                                         the Debian packages and npm ci
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'meshbench images: %s\n' "$*" >&2; }
die() { printf 'meshbench images: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh
# shellcheck source=scripts/image-build.sh
. scripts/image-build.sh

# The build tools, installed when missing (as root with apt): mmdebstrap for the root
# filesystems, gcc and libnetfilter-queue's headers for nfq-delay. Needs no lock or engine.
if [ "${1:-}" = tools ]; then
  packages=()
  have mmdebstrap || packages+=(mmdebstrap)
  have gcc || packages+=(gcc libc6-dev)
  [ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || packages+=(libnetfilter-queue-dev)
  [ "${#packages[@]}" -eq 0 ] && exit 0
  can_apt || die "missing ${packages[*]} (to build the images): apt-get install ${packages[*]}, then re-run."
  log "installing ${packages[*]}"
  apt_install "${packages[@]}"
  exit 0
fi

CACHE=.meshbench/cache
mkdir -p "$CACHE"
# One build at a time in this checkout: two callers at once (two test files, two runs) would
# run npm ci in the same folder and bundle from a half-installed node_modules. The second
# waits, then finds the image up to date.
if have flock; then
  exec 9>"$CACHE/build-images.lock"
  flock 9
fi
BASE_IMAGE=${MESHBENCH_BASE_IMAGE:-local/debian-minbase:bookworm}
REFNODE_IMAGE=${MESHBENCH_REFNODE_IMAGE:-meshbench/refnode:latest}
ETCD_IMAGE=${MESHBENCH_ETCD_IMAGE:-meshbench/etcd:3.4}
NETHELPER_IMAGE=${MESHBENCH_NETHELPER_IMAGE:-meshbench/nethelper:latest}
LOADCLIENT_IMAGE=${MESHBENCH_LOADCLIENT_IMAGE:-meshbench/loadclient:latest}
NETHELPER_BASE=${MESHBENCH_NETHELPER_BASE:-local/debian-nethelper:bookworm}
NETHELPER_INCLUDE=iproute2,iptables,tcpdump,libnetfilter-queue1,procps,iputils-ping
BASE_INCLUDE=libstdc++6,ca-certificates
NFQ_DELAY_CFLAGS="-O2 -Wall -Wextra -Werror"
NFQ_DELAY_LIBS="-lnetfilter_queue -lnfnetlink"
what=${1:-all}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# The cached tarball of an mmdebstrap recipe (made when missing): prints its path.
rootfs_tar() {
  local image=$1 variant=$2 include=$3
  local key
  key=$(printf '%s|%s|bookworm' "$variant" "$include" | sha256sum | cut -c1-16)
  local tar="$CACHE/rootfs-$variant-$key.tar"
  if [ ! -s "$tar" ]; then
    if ! have mmdebstrap; then
      if can_apt; then
        log "installing mmdebstrap"
        apt_install mmdebstrap
      else
        die "mmdebstrap is missing and no base image $image exists: install mmdebstrap, or set MESHBENCH_BASE_IMAGE to an image you can pull."
      fi
    fi
    log "building rootfs $tar with mmdebstrap (variant $variant; about 20-60 s, once)"
    mmdebstrap --quiet --format=tar --variant="$variant" --include="$include" bookworm "$tar.tmp" >&2 ||
      die "mmdebstrap failed; see its output above"
    mv "$tar.tmp" "$tar"
  fi
  printf '%s\n' "$tar"
}

# Builds IMAGE from an mmdebstrap recipe, caching the tarball keyed by the recipe.
debootstrap_image() {
  local image=$1 variant=$2 include=$3
  image_exists "$image" && return 0
  local tar
  tar=$(rootfs_tar "$image" "$variant" "$include")
  log "importing $tar as $image"
  docker import --change 'CMD ["/bin/bash"]' "$tar" "$image" >/dev/null
}

build_base() {
  if [ "$BASE_IMAGE" = local/debian-minbase:bookworm ]; then
    debootstrap_image "$BASE_IMAGE" minbase "$BASE_INCLUDE"
  elif ! image_exists "$BASE_IMAGE"; then
    docker pull "$BASE_IMAGE" >&2 || die "cannot pull $BASE_IMAGE"
  fi
}

# The recipe hash an image carries as its meshbench.recipe label, from stdin.
recipe_key() { sha256sum | cut -c1-16; }
# The files of a lean image's rootfs that are not the app: the node binary and every shared
# library ldd lists for it, with the dynamic loader, at the paths ldd prints.
node_runtime_files() {
  local node=$1 line path
  printf '%s\n' "$node"
  ldd "$node" | while read -r line; do
    case "$line" in
      *"not found"*) die "ldd $node: $line" ;;
      *"=> /"*) path=${line#*=> }; printf '%s\n' "${path%% (*}" ;;
      /*) printf '%s\n' "${line%% (*}" ;;
    esac
  done
}

# An image for a bundled Node.js app with no distribution base (FROM scratch):
#   /usr/local/bin/node        this machine's node, stripped (strip --strip-all: keeps the dynamic
#                              symbols native addons link against; drops debug info and .symtab)
#   /lib*/...                  exactly the libraries ldd lists for it, and the dynamic loader
#   /etc/passwd, /etc/group    root and meshbench (uid/gid 65532), the user the app runs as
#   /etc/nsswitch.conf         hosts: files dns (glibc >= 2.34 has both built in)
#   /tmp (1777), /data (owned by meshbench), /opt/app/ENTRY_JS and the FILEs beside it
# No shell, no package manager. The rootfs goes in as one reproducible tarball (rootfs.tar); the
# DOCKERFILE adds it (`ADD rootfs.tar /`) and sets USER, ENV, EXPOSE, VOLUME and the ENTRYPOINT.
# Rebuilt only when an input changes: the image carries the recipe's hash as a label, and the
# hash of the package files alone (ENTRY_JS and the FILEs; LEAN_APP_KEY instead when set) as
# meshbench.app, which meshbench compares before it uses the image (src/testbed/docker/ensure-image.ts:
# appKey). Usage: lean_node_image IMAGE DOCKERFILE ENTRY_JS [FILE...]
lean_node_image() {
  local image=$1 dockerfile=$2 entry=$3
  shift 3
  local name node key ctx root
  name=$(basename "$entry" .js)
  node=$(readlink -f "$(command -v node)")
  for file in "$dockerfile" "$entry" "$@"; do
    [ -f "$file" ] || die "$file is missing (building $image): run npm run build first"
  done
  local runtime app
  runtime=$(node_runtime_files "$node")
  app=${LEAN_APP_KEY:-$(cat "$entry" "$@" | recipe_key)}
  key=$({
    printf 'lean-node-3|%s|%s|%s\n' "$image" "$runtime" "$app"
    # shellcheck disable=SC2086 # one path a line, no spaces
    cat $runtime "$dockerfile" "$entry" "$@"
  } | recipe_key)
  [ "$(image_recipe "$image")" = "$key" ] && return 0
  # a folder per image, so two builds at once (a bench's tag, the default one) do not collide
  ctx=.meshbench/build/lean-$(printf '%s' "$image" | tr -c 'A-Za-z0-9._-' '_')
  root=$ctx/rootfs
  rm -rf "$ctx"; mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/opt/app" "$ctx/data/data"
  if have strip; then
    strip --strip-all -o "$root/usr/local/bin/node" "$node" || die "strip $node failed"
  else
    log "strip is missing (binutils): $image gets the unstripped node binary"
    cp "$node" "$root/usr/local/bin/node"
  fi
  local lib
  for lib in $(printf '%s\n' "$runtime" | tail -n +2); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/root:/nonexistent\nmeshbench:x:65532:65532:meshbench:/nonexistent:/nonexistent\n' >"$root/etc/passwd"
  printf 'root:x:0:\nmeshbench:x:65532:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  cp "$entry" "$@" "$root/opt/app/"
  chmod 1777 "$root/tmp"
  # Owners, modes and times fixed, names sorted: the same inputs give the same layer.
  local tar_flags=(--sort=name --mtime=@0 --numeric-owner --format=gnu)
  tar "${tar_flags[@]}" --owner=0 --group=0 -cf "$ctx/rootfs.tar" -C "$root" . ||
    die "packing the rootfs of $image failed"
  tar "${tar_flags[@]}" --owner=65532 --group=65532 -rf "$ctx/rootfs.tar" -C "$ctx/data" data ||
    die "packing the rootfs of $image failed"
  rm -rf "$root" "$ctx/data"
  cp "$dockerfile" "$ctx/Dockerfile"
  log "building $image FROM scratch (node $("$node" --version), $(du -m "$ctx/rootfs.tar" | cut -f1) MB)"
  docker_build "$image" "$ctx" --label meshbench.image="$name" --label meshbench.base=scratch \
    --label meshbench.recipe="$key" --label meshbench.app="$app"
  # A missing library or loader fails here, not in a test.
  docker run --rm --network none --entrypoint /usr/local/bin/node "$image" -e 'process.exit(0)' \
    >"$ctx.log" 2>&1 || {
    cat "$ctx.log" >&2
    die "node does not start in $image (a library ldd did not list?): see the output above"
  }
  rm -rf "$ctx" "$ctx.log"
}

# The reference node on the Debian base (MESHBENCH_REFNODE_BASE=debian): a shell and the usual
# tools in the container, for debugging with docker exec; 6-7 times the size of the lean one.
build_refnode_debian() {
  build_base
  [ -f dist/refnode/refnode.js ] || die "dist/refnode/refnode.js is missing: run npm run build first"
  local key
  key=$({
    printf 'debian-2|%s|%s\n' "$REFNODE_IMAGE" "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"
    cat "$(command -v node)" dist/refnode/refnode.js systems/refnode/Dockerfile.debian
  } | recipe_key)
  [ "$(image_recipe "$REFNODE_IMAGE")" = "$key" ] && return 0
  local ctx=.meshbench/build/refnode
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$(command -v node)" "$ctx/node"
  cp dist/refnode/refnode.js "$ctx/refnode.js"
  cp systems/refnode/Dockerfile.debian "$ctx/Dockerfile"
  log "building $REFNODE_IMAGE from $BASE_IMAGE"
  docker_build "$REFNODE_IMAGE" "$ctx" --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --label meshbench.image=refnode --label meshbench.base=debian --label meshbench.recipe="$key" \
    --label meshbench.app="$(recipe_key <dist/refnode/refnode.js)"
}

# The load client (--load-clients colocated): the bundled client and the generator's worker on
# the lean base, shipped to the hosts beside the node image.
build_loadclient() {
  lean_node_image "$LOADCLIENT_IMAGE" sidecars/loadclient/Dockerfile dist/loadclient/loadclient.js \
    dist/loadclient/worker.js
}

build_refnode() {
  case "${MESHBENCH_REFNODE_BASE:-scratch}" in
    scratch) lean_node_image "$REFNODE_IMAGE" systems/refnode/Dockerfile dist/refnode/refnode.js ;;
    debian) build_refnode_debian ;;
    *) die "MESHBENCH_REFNODE_BASE is '$MESHBENCH_REFNODE_BASE': use scratch (the default) or debian" ;;
  esac
}

# etcd from this machine's packages. Rebuilt only when the binaries change: the image
# carries their hash as a label, so a cached image is reused across runs and CI.
build_etcd() {
  bash scripts/ensure-etcd.sh
  local etcd etcdctl key
  etcd=$(command -v etcd) etcdctl=$(command -v etcdctl)
  key=$(cat "$etcd" "$etcdctl" systems/etcd/Dockerfile | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "meshbench.recipe"}}' "$ETCD_IMAGE" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  build_base
  local ctx=.meshbench/build/etcd
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$etcd" "$ctx/etcd"
  cp "$etcdctl" "$ctx/etcdctl"
  cp systems/etcd/Dockerfile "$ctx/Dockerfile"
  log "building $ETCD_IMAGE from $BASE_IMAGE ($("$etcd" --version | head -1))"
  docker_build "$ETCD_IMAGE" "$ctx" --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --label meshbench.image=etcd --label meshbench.recipe="$key"
}

# Installs the compiler and libnetfilter-queue's headers for nfq-delay (when root with apt), or stops.
ensure_nfq_toolchain() {
  have gcc && [ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] && return 0
  if can_apt; then
    log "installing gcc and libnetfilter-queue-dev (to compile nfq-delay)"
    apt_install gcc libc6-dev libnetfilter-queue-dev
  else
    die "gcc or libnetfilter-queue-dev is missing (needed to compile nfq-delay): apt-get install gcc libnetfilter-queue-dev, then re-run."
  fi
}

# The network helper: an mmdebstrap rootfs with the tools, plus nfq-delay compiled on this
# machine (Debian bookworm, the image's release, so its libc and libnetfilter-queue match).
# Rebuilt only when the recipe (C source, Dockerfile, package list, flags) changes.
nethelper_key() {
  {
    cat sidecars/nethelper/nfq-delay/nfq-delay.c sidecars/nethelper/Dockerfile
    printf '%s|%s|%s' "$NETHELPER_INCLUDE" "$NFQ_DELAY_CFLAGS" "$NFQ_DELAY_LIBS"
  } | sha256sum | cut -c1-16
}

build_nethelper() {
  local key
  key=$(nethelper_key)
  if [ "$(image_recipe "$NETHELPER_IMAGE")" = "$key" ]; then
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
  gcc $NFQ_DELAY_CFLAGS -o "$ctx/nfq-delay" sidecars/nethelper/nfq-delay/nfq-delay.c $NFQ_DELAY_LIBS ||
    die "compiling sidecars/nethelper/nfq-delay/nfq-delay.c failed; see the compiler's output above"
  cp sidecars/nethelper/Dockerfile "$ctx/Dockerfile"
  log "building $NETHELPER_IMAGE from $NETHELPER_BASE"
  docker_build "$NETHELPER_IMAGE" "$ctx" --build-arg BASE_IMAGE="$NETHELPER_BASE" \
    --label meshbench.image=nethelper --label meshbench.recipe="$key"
  # A binary built against a newer libc than the image's fails here, not in a test.
  docker run --rm "$NETHELPER_IMAGE" nfq-delay -h >/dev/null 2>"$ctx.log" || {
    cat "$ctx.log" >&2
    die "nfq-delay does not run in $NETHELPER_IMAGE (compiled on $(. /etc/os-release && echo "$PRETTY_NAME"); the image is Debian bookworm): build on bookworm"
  }
  rm -f "$ctx.log"
}

# A P2P system's meshbench.app: its sources (every file under src/, in byte order, then its lock
# file), which its bundle is made from (appKey in src/testbed/docker/ensure-image.ts, the same)
p2p_app_key() {
  local dir=systems/$1
  { find "$dir/src" -type f | LC_ALL=C sort; printf '%s\n' "$dir/package-lock.json"; } |
    while IFS= read -r file; do cat "$file"; done | recipe_key
}

# A P2P system under test (systems/NAME): its own npm install (its lock file) and bundle, built
# from its folder, then a lean image.
build_p2p_system() {
  local name=$1 entry=$2 image=$3
  # npm ci only when its lock file is newer than what is installed (as scripts/setup.sh does)
  (cd "systems/$name" &&
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi && node bundle.mjs) >&2 ||
    die "building systems/$name failed (npm ci needs the npm registry, or its packages in npm's cache)"
  LEAN_APP_KEY=$(p2p_app_key "$name") lean_node_image "$image" "systems/$name/Dockerfile" "systems/$name/dist/$entry"
}

case "$what" in
  base) build_base ;;
  refnode) build_refnode ;;
  etcd) build_etcd ;;
  nethelper) build_nethelper ;;
  loadclient) build_loadclient ;;
  libp2p) build_p2p_system libp2p-gossipsub libp2p-node.js "${MESHBENCH_LIBP2P_IMAGE:-meshbench/libp2p-gossipsub:latest}" ;;
  crdt) build_p2p_system crdt-sync crdt-node.js "${MESHBENCH_CRDT_IMAGE:-meshbench/crdt-sync:latest}" ;;
  rootfs)
    # What `all` would make with mmdebstrap, all at once (each is mostly one core's work, with
    # downloads): the Debian base when its image is missing, the network helper's when its image
    # is not the recipe's, the sandbox hosts' (scripts/build-sandbox-image.sh rootfs).
    pids=()
    if [ "$BASE_IMAGE" = local/debian-minbase:bookworm ] && ! image_exists "$BASE_IMAGE"; then
      rootfs_tar "$BASE_IMAGE" minbase "$BASE_INCLUDE" >/dev/null &
      pids+=($!)
    fi
    if [ "$(image_recipe "$NETHELPER_IMAGE")" != "$(nethelper_key)" ]; then
      rootfs_tar "$NETHELPER_BASE" minbase "$NETHELPER_INCLUDE" >/dev/null &
      pids+=($!)
    fi
    if [ -x scripts/build-sandbox-image.sh ]; then
      scripts/build-sandbox-image.sh rootfs &
      pids+=($!)
    fi
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" = 0 ] || die "a root filesystem failed to build; see the output above"
    ;;
  app-key)
    # what meshbench.app holds for a P2P system's image (its tests compare it with appKey)
    [ $# -eq 2 ] && [ -d "systems/$2/src" ] || die "usage: scripts/build-images.sh app-key SYSTEM (a folder of systems/)"
    p2p_app_key "$2"
    ;;
  lean)
    [ $# -ge 4 ] || die "usage: scripts/build-images.sh lean IMAGE DOCKERFILE ENTRY_JS [FILE...]"
    shift
    lean_node_image "$@"
    ;;
  all)
    # the sandbox hosts' images (large imports, mostly I/O) beside the others
    sandbox=
    if [ -x scripts/build-sandbox-image.sh ]; then
      scripts/build-sandbox-image.sh &
      sandbox=$!
    fi
    build_refnode
    build_etcd
    build_nethelper
    build_loadclient
    if [ -n "$sandbox" ]; then wait "$sandbox" || die "the sandbox hosts' images failed; see the output above"; fi
    ;;
  *) die "unknown image set '$what' (use refnode, etcd, nethelper, loadclient, base, all, libp2p, crdt, or lean IMAGE DOCKERFILE ENTRY_JS)" ;;
esac
