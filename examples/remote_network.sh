#!/usr/bin/env bash
# Interactive: start nodes on remote hosts over SSH (Docker installed where
# missing, image shipped), send transactions, print the results.
# Hosts come from a hosts file (see hosts.example.env; `npm run sandbox -- up`
# writes one for emulated hosts) or the MYSTICETI_NODE{n}_* environment.
# MESHBENCH_DRY_RUN=1 prints the final command instead of running it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib/wizard.sh
. examples/lib/wizard.sh

say 'meshbench: remote network'
say ''
default_hosts=${MESHBENCH_SANDBOX_HOSTS_FILE:-.meshbench/sandbox/hosts.env}
[ -f "$default_hosts" ] || default_hosts=hosts.env
is_hosts_answer() {
  if [ "$1" = env ]; then
    [ -n "${MYSTICETI_NODE0_HOST:-}" ] && return 0
    say '  MYSTICETI_NODE0_HOST is not set in the environment'
    return 1
  fi
  is_existing_file "$1"
}
ask hosts_file 'Hosts file ("env" to use the MYSTICETI_NODE{n}_* environment)' "$default_hosts" is_hosts_answer \
  'give an existing, readable hosts file, or "env"'
ask nodes_per_host 'Nodes per host' 1 is_nodes_per_host 'a whole number from 1 to 50'
ask transactions 'Number of transactions' 1000 is_positive_int 'a whole number >= 1'
ask rate 'Transaction rate (tx/s)' 100 is_positive_int 'a whole number >= 1'
ask size 'Transaction size (bytes)' 512 is_positive_int 'a whole number >= 1'
ask startup_wait 'Longest wait for the nodes to be ready (seconds)' 60 is_positive_int 'a whole number >= 1'
ask_yes_no cleanup 'Remove the containers when done?' yes
thorough=no
[ "$cleanup" = yes ] && ask_yes_no thorough 'Also remove volumes, data and the shipped image?' no

say ''
say 'Configuration:'
say "  hosts:              $hosts_file, $nodes_per_host node(s) each"
say "  transactions:       $transactions at $rate tx/s, $size bytes each"
say "  startup wait:       at most $startup_wait s"
say "  cleanup:            $cleanup (thorough: $thorough)"
say ''
say 'Environment:'
if [ "$hosts_file" != env ]; then
  if check_hosts_file "$hosts_file"; then
    say "  check: hosts file $hosts_file ok"
  else
    say 'Fix the hosts file and run this script again.'
    exit 1
  fi
fi
check_environment no
say ''
ask_yes_no go 'Start the remote network?' yes
if [ "$go" != yes ]; then
  say 'Cancelled; nothing was started.'
  exit 0
fi

args=(npx --no-install remote-network --num-transactions "$transactions" --transaction-rate "$rate"
  --transaction-size "$size" --startup-wait "$startup_wait")
[ "$hosts_file" != env ] && args+=(--hosts-file "$hosts_file")
[ "$((10#$nodes_per_host))" != 1 ] && args+=(--nodes-per-host "$((10#$nodes_per_host))")
[ "$cleanup" = yes ] && args+=(--cleanup)
[ "$thorough" = yes ] && args+=(--cleanup-thorough)
run_final "${args[@]}"
