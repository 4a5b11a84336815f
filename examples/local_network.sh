#!/usr/bin/env bash
# Interactive: start a local network of nodes with Docker Compose, send
# transactions, print the results. Empty input takes the [default].
# MESHBENCH_DRY_RUN=1 prints the final command instead of running it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib/wizard.sh
. examples/lib/wizard.sh

say 'meshbench: local network'
say ''
ask committee 'Committee size (nodes)' 4 is_positive_int 'a whole number >= 1'
ask transactions 'Number of transactions' 1000 is_positive_int 'a whole number >= 1'
ask rate 'Transaction rate (tx/s)' 100 is_positive_int 'a whole number >= 1'
ask size 'Transaction size (bytes)' 512 is_positive_int 'a whole number >= 1'
ask startup_wait 'Longest wait for the nodes to be ready (seconds)' 30 is_positive_int 'a whole number >= 1'
ask_yes_no cleanup 'Remove the network when done?' yes

say ''
say 'Configuration:'
say "  committee:          $committee nodes"
say "  transactions:       $transactions at $rate tx/s, $size bytes each"
say "  startup wait:       at most $startup_wait s"
say "  cleanup:            $cleanup"
say ''
say 'Environment:'
check_environment yes
say ''
ask_yes_no go 'Start the network?' yes
if [ "$go" != yes ]; then
  say 'Cancelled; nothing was started.'
  exit 0
fi

args=(npx --no-install local-network --committee "$committee" --num-transactions "$transactions"
  --transaction-rate "$rate" --transaction-size "$size" --startup-wait "$startup_wait")
[ "$cleanup" = yes ] && args+=(--cleanup)
run_final "${args[@]}"
