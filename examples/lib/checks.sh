#!/usr/bin/env bash
# Value checks and command display shared by the example scripts (sourced, not run).

is_positive_int() { [[ $1 =~ ^[0-9]+$ ]] && [ "$((10#$1))" -ge 1 ]; }
# Nodes on each remote host (benchmark and remote-network take 1 to 50).
is_nodes_per_host() { is_positive_int "$1" && [ "$((10#$1))" -le 50 ]; }
is_network_type() { case "$1" in local | remote | both) return 0 ;; *) return 1 ;; esac; }

# A comma-separated list of distinct whole loads, each >= 1.
is_load_list() {
  [[ $1 =~ ^[0-9]+(,[0-9]+)*$ ]] || return 1
  local seen=, load loads
  IFS=, read -r -a loads <<<"$1"
  for load in "${loads[@]}"; do
    [ "$((10#$load))" -ge 1 ] || return 1
    case "$seen" in *",$((10#$load)),"*) return 1 ;; esac
    seen="$seen$((10#$load)),"
  done
}

is_nonempty() { [ -n "$1" ]; }

# Joins words for display, quoting only those that need it.
shell_join() {
  local out='' word quoted
  for word in "$@"; do
    if [[ $word =~ ^[A-Za-z0-9_./,:=@%+-]+$ ]]; then quoted=$word; else printf -v quoted '%q' "$word"; fi
    out+="${out:+ }$quoted"
  done
  printf '%s' "$out"
}

