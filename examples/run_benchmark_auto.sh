#!/usr/bin/env bash
# Non-interactive benchmark for CI: flags only, non-zero exit on any failure.
#
#   examples/run_benchmark_auto.sh --network-type local --local-committee 4 \
#     --duration 60 --local-loads 100,200
#
# MESHBENCH_DRY_RUN=1 prints the benchmark command instead of running it.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: examples/run_benchmark_auto.sh [options]

Runs `benchmark` with the given settings, without asking anything (for CI).

Options:
  --network-type TYPE     local | remote | both            (default: local)
  --local-committee N     nodes in the local network       (default: 4)
  --duration SECONDS      load per level                   (default: 180)
  --local-loads LIST      local loads, tx/s                (default: 100,200,500)
  --remote-loads LIST     remote loads, tx/s               (default: 50,100,200)
  --hosts-file FILE       hosts for remote/both            (default: .meshbench/sandbox/hosts.env if present)
  --nodes-per-host N      remote nodes on each host, 1-50  (default: 1)
  --output-dir DIR        where the run folder goes        (default: ./benchmarks)
  --runs N                runs per level (3 or more lets `benchmark compare` test for significance) (default: 1)
  --no-cleanup            leave the network(s) running afterwards
  -h, --help              show this help

Exit status: 0 on success, 2 on bad flags, otherwise the benchmark's own status.
Environment: MESHBENCH_DRY_RUN=1 prints the command instead of running it;
MESHBENCH_SANDBOX_HOSTS_FILE is the sandbox's hosts file the default falls back to.
USAGE
}

fail() {
  printf 'run_benchmark_auto.sh: error: %s (see --help)\n' "$*" >&2
  exit 2
}

# shellcheck source=lib/checks.sh
. examples/lib/checks.sh

network_type=local
committee=4
duration=180
local_loads=100,200,500
remote_loads=50,100,200
hosts_file=''
output_dir=./benchmarks
runs=1
nodes_per_host=1
cleanup=yes

need_value() { [ $# -ge 2 ] && [ -n "$2" ] || fail "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --network-type) need_value "$@"; network_type=$2; shift 2 ;;
    --network-type=*) network_type=${1#*=}; shift ;;
    --local-committee) need_value "$@"; committee=$2; shift 2 ;;
    --local-committee=*) committee=${1#*=}; shift ;;
    --duration) need_value "$@"; duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --local-loads) need_value "$@"; local_loads=$2; shift 2 ;;
    --local-loads=*) local_loads=${1#*=}; shift ;;
    --remote-loads) need_value "$@"; remote_loads=$2; shift 2 ;;
    --remote-loads=*) remote_loads=${1#*=}; shift ;;
    --hosts-file) need_value "$@"; hosts_file=$2; shift 2 ;;
    --hosts-file=*) hosts_file=${1#*=}; shift ;;
    --output-dir) need_value "$@"; output_dir=$2; shift 2 ;;
    --output-dir=*) output_dir=${1#*=}; shift ;;
    --nodes-per-host) need_value "$@"; nodes_per_host=$2; shift 2 ;;
    --nodes-per-host=*) nodes_per_host=${1#*=}; shift ;;
    --runs) need_value "$@"; runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --no-cleanup) cleanup=no; shift ;;
    *) fail "unknown option \"$1\"" ;;
  esac
done

case "$network_type" in local | remote | both) ;; *) fail "--network-type \"$network_type\" is not valid: one of local, remote, both" ;; esac
is_positive_int "$committee" || fail "--local-committee \"$committee\" is not valid: a whole number >= 1"
is_nodes_per_host "$nodes_per_host" || fail "--nodes-per-host \"$nodes_per_host\" is not valid: a whole number from 1 to 50"
[ "$((10#$nodes_per_host))" = 1 ] || [ "$network_type" != local ] || fail "--nodes-per-host packs remote nodes; use --network-type remote or both"
is_positive_int "$runs" || fail "--runs \"$runs\" is not valid: a whole number >= 1"
is_positive_int "$duration" || fail "--duration \"$duration\" is not valid: a whole number of seconds >= 1"
is_load_list "$local_loads" || fail "--local-loads \"$local_loads\" is not valid: distinct whole loads >= 1, comma-separated"
is_load_list "$remote_loads" || fail "--remote-loads \"$remote_loads\" is not valid: distinct whole loads >= 1, comma-separated"
if [ "$network_type" != local ]; then
  sandbox_hosts=${MESHBENCH_SANDBOX_HOSTS_FILE:-.meshbench/sandbox/hosts.env}
  if [ -z "$hosts_file" ] && [ -f "$sandbox_hosts" ]; then hosts_file=$sandbox_hosts; fi
  if [ -z "$hosts_file" ] && [ -z "${MYSTICETI_NODE0_HOST:-}" ]; then
    fail "--network-type $network_type needs hosts: give --hosts-file FILE or set MYSTICETI_NODE0_HOST"
  fi
  [ -z "$hosts_file" ] || [ -r "$hosts_file" ] || fail "--hosts-file \"$hosts_file\" is not valid: no readable file there"
fi

args=(npx --no-install benchmark --network-type "$network_type" --duration "$duration" --output-dir "$output_dir"
  --console-output true --file-output true --runs "$runs")
[ "$network_type" != remote ] && args+=(--committee "$committee" --local-loads "$local_loads")
[ "$network_type" != local ] && args+=(--remote-loads "$remote_loads")
[ -n "$hosts_file" ] && args+=(--hosts-file "$hosts_file")
[ "$((10#$nodes_per_host))" = 1 ] || args+=(--nodes-per-host "$((10#$nodes_per_host))")
[ "$cleanup" = yes ] && args+=(--cleanup)

printed=$(shell_join "${args[@]}")
if [ "${MESHBENCH_DRY_RUN:-0}" = 1 ]; then
  printf '%s\n' "$printed"
  exit 0
fi
printf 'run_benchmark_auto.sh: %s\n' "$printed" >&2
exec "${args[@]}"
