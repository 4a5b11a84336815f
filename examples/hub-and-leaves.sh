#!/usr/bin/env bash
# The libp2p seed experiment: one bootstrap hub with n leaves that connect only to it (a
# star) on real js-libp2p gossipsub peers (systems/libp2p-gossipsub, built on first use), and
# the hub's resource use and connection count against the leaves' as n grows. Runs the load
# sweep once per network size (3, 5, 9, 17 and 33 nodes: a hub with 2, 4, 8, 16 and 32
# leaves), each on a local network of its own, with the resource monitor on and each node's
# libp2p connection gauge recorded, then prints scaling.txt: throughput, latency, CPU and
# memory per node against N, the hub beside the leaves' average (scaling.json has the same),
# and draws them as scaling.png (benchmark report RUN_DIR --png).
#
#   examples/hub-and-leaves.sh                      # 3..33 nodes, 50 msg/s, 30 s per level
#   SIZES=3,5 LOADS=20,50 DURATION=15 examples/hub-and-leaves.sh --output-dir /tmp/hub
#   SYSTEM=refnode examples/hub-and-leaves.sh       # the reference node instead
#
# On 2 cores the 33-node level starves the hub of CPU (systems/libp2p-gossipsub/README.md);
# the console says when a host was short of CPU. SIZES=3,5,9,17 stays within such a machine.
# Any other benchmark flag passes through. MESHBENCH_DRY_RUN=1 prints the command only.
# Your own system instead: a folder with a system.json (docs/architecture.md, "A system under
# test"); each node finds MESHBENCH_BOOTSTRAP (the hub's host:port) and MESHBENCH_PEERS (its
# neighbours') in its environment (docs/topology.md).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${SIZES:-3,5,9,17,33}
system=${SYSTEM:-libp2p-gossipsub}
loads=${LOADS:-50}
duration=${DURATION:-30}
output=benchmarks
previous=""
for ((i = 1; i <= $#; i++)); do
  [ "$previous" = --output-dir ] && output=${!i}
  previous=${!i}
done

series=()
[ "$system" = libp2p-gossipsub ] && series=(--metrics-series libp2p_connection_manager_connections)
command=(npx --no-install benchmark --system "$system" --topology star --committees "$sizes"
  --loads "$loads" --duration "$duration" --startup-wait "${STARTUP_WAIT:-180}" --monitor "${series[@]}" --cleanup "$@")
if [ "${MESHBENCH_DRY_RUN:-0}" = 1 ]; then
  printf '%q ' "${command[@]}"
  printf '\n'
  exit 0
fi
before=$(ls -1d "$output"/run-* 2>/dev/null | sort | tail -1 || true)
"${command[@]}"
latest=$(ls -1d "$output"/run-* 2>/dev/null | sort | tail -1 || true)
if [ -n "$latest" ] && [ "$latest" != "$before" ] && [ -f "$latest/scaling.txt" ]; then
  printf '\nThe hub (node0) against its leaves, from %s/scaling.txt:\n' "$latest"
  grep -E '^  - .*(node0 uses| on node0,)' "$latest/scaling.txt" || true
  # the same as a figure: scaling.png (headless Chromium)
  npx --no-install benchmark report "$latest" --png || true
fi
