# shellcheck shell=bash
# Sourced by the image builds (build-images.sh, build-sandbox-image.sh); each defines `die`.
#   image_recipe IMAGE          the recipe key IMAGE carries (its meshbench.recipe label), or nothing
#   image_id IMAGE              the ID the name IMAGE points at now, or nothing
#   docker_build IMAGE CTX ARG… builds CTX as IMAGE with the extra `docker build` ARGs; its chatter
#                               (the legacy builder's deprecation notice) shows only on failure, then
#                               it stops; once built, CTX and its log go. Then it removes the image
#                               IMAGE named before when no name is left on it: each rebuild used to
#                               leave its predecessor behind, untagged (~90 MB each). One a container
#                               still uses stays (docker image rm without -f refuses), as does one
#                               another tag names.
image_recipe() { docker image inspect -f '{{index .Config.Labels "meshbench.recipe"}}' "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

docker_build() {
  local image=$1 ctx=$2 replaced
  shift 2
  replaced=$(image_id "$image")
  if ! docker build -q "$@" -t "$image" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    die "docker build of $image failed"
  fi
  # the context (copies of binaries: etcd's was 37 MB) and its log are the build's own
  rm -rf "$ctx" "$ctx.log"
  [ -n "$replaced" ] && [ "$replaced" != "$(image_id "$image")" ] || return 0
  [ "$(docker image inspect -f '{{len .RepoTags}}' "$replaced" 2>/dev/null)" = 0 ] || return 0
  docker image rm "$replaced" >/dev/null 2>&1 || true
}
