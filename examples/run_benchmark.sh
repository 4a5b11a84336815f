#!/usr/bin/env bash
# Interactive: sweep load levels on a local network, a remote one, or both, and
# write JSON and text reports (and a local-vs-remote comparison for "both").
# Empty input takes the [default]. MESHBENCH_DRY_RUN=1 prints the final command
# instead of running it. For CI, use run_benchmark_auto.sh (flags only).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib/wizard.sh
. examples/lib/wizard.sh

say 'meshbench: benchmark'
say ''
ask network_type 'Network type (local, remote, both)' local is_network_type 'one of local, remote, both'
hosts_file=''
nodes_per_host=1
if [ "$network_type" != local ]; then
  default_hosts=${MESHBENCH_SANDBOX_HOSTS_FILE:-.meshbench/sandbox/hosts.env}
  [ -f "$default_hosts" ] || default_hosts=hosts.env
  ask hosts_file 'Hosts file for the remote network' "$default_hosts" is_existing_file 'give an existing, readable file'
  ask nodes_per_host 'Nodes per remote host' 1 is_nodes_per_host 'a whole number from 1 to 50'
fi
committee=4
local_loads=''
remote_loads=''
if [ "$network_type" != remote ]; then
  ask committee 'Local committee size (nodes)' 4 is_positive_int 'a whole number >= 1'
  ask local_loads 'Local loads, tx/s (comma-separated)' 100,200,500 is_load_list \
    'distinct whole numbers >= 1, comma-separated, e.g. 100,200,500'
fi
if [ "$network_type" != local ]; then
  ask remote_loads 'Remote loads, tx/s (comma-separated)' 50,100,200 is_load_list \
    'distinct whole numbers >= 1, comma-separated, e.g. 50,100,200'
fi
ask duration 'Duration per load level (seconds)' 180 is_positive_int 'a whole number >= 1'
ask size 'Transaction size (bytes)' 512 is_positive_int 'a whole number >= 1'
ask runs 'Runs per load level' 1 is_positive_int 'a whole number >= 1'
ask output_dir 'Output folder' ./benchmarks is_nonempty 'a folder path'
ask_yes_no cleanup 'Remove the network(s) when done?' yes

say ''
say 'Configuration:'
say "  network type:       $network_type"
[ -n "$hosts_file" ] && say "  hosts file:         $hosts_file"
[ -n "$local_loads" ] && say "  local:              $committee nodes, loads $local_loads tx/s"
[ -n "$remote_loads" ] && say "  remote loads:       $remote_loads tx/s, $nodes_per_host node(s) per host"
say "  duration:           $duration s per level, $runs run(s) each"
say "  transaction size:   $size bytes"
say "  output folder:      $output_dir"
say "  cleanup:            $cleanup"
say ''
say 'Environment:'
if [ -n "$hosts_file" ]; then
  if check_hosts_file "$hosts_file"; then
    say "  check: hosts file $hosts_file ok"
  else
    say 'Fix the hosts file and run this script again.'
    exit 1
  fi
fi
need_docker=no
[ "$network_type" != remote ] && need_docker=yes
check_environment "$need_docker"
say ''
ask_yes_no go 'Run the benchmark?' yes
if [ "$go" != yes ]; then
  say 'Cancelled; nothing was started.'
  exit 0
fi

args=(npx --no-install benchmark --network-type "$network_type" --duration "$duration"
  --transaction-size "$size" --runs "$runs" --output-dir "$output_dir")
[ "$network_type" != remote ] && args+=(--committee "$committee" --local-loads "$local_loads")
[ "$network_type" != local ] && args+=(--remote-loads "$remote_loads" --hosts-file "$hosts_file")
[ "$((10#$nodes_per_host))" != 1 ] && args+=(--nodes-per-host "$((10#$nodes_per_host))")
[ "$cleanup" = yes ] && args+=(--cleanup)
run_final "${args[@]}"
