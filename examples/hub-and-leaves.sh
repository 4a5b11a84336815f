#!/usr/bin/env bash
# The libp2p seed experiment: one hub with n leaves (a star), and the hub's resource use
# against the leaves' as n grows. Runs the load sweep once per network size (4, 8 and 16
# nodes: a hub with 3, 7 and 15 leaves), each on a local network of its own, with the
# resource monitor on, then prints scaling.txt: throughput, latency, CPU and memory per
# node against N, the hub beside the leaves' average.
#
#   examples/hub-and-leaves.sh                      # 4,8,16 nodes, 50 tx/s, 30 s per level
#   SIZES=4,8 LOADS=20,50 DURATION=15 examples/hub-and-leaves.sh --output-dir /tmp/hub
#
# Any other benchmark flag passes through. MESHBENCH_DRY_RUN=1 prints the command only.
# Your own image instead of the reference node: each node finds MESHBENCH_BOOTSTRAP (the
# hub's host:port) and MESHBENCH_PEERS (its neighbours') in its environment (docs/topology.md).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${SIZES:-4,8,16}
loads=${LOADS:-50}
duration=${DURATION:-30}
output=benchmarks
previous=""
for ((i = 1; i <= $#; i++)); do
  [ "$previous" = --output-dir ] && output=${!i}
  previous=${!i}
done

command=(npx --no-install benchmark --topology star --committees "$sizes" --loads "$loads"
  --duration "$duration" --monitor --cleanup "$@")
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
  grep -E '^  - .*node0 uses' "$latest/scaling.txt" || true
fi
