#!/usr/bin/env bash
# Shared helpers of the interactive example wizards (sourced, not run).
# Questions read from the terminal; an empty answer takes the default shown in
# brackets; invalid answers are explained and asked again; Ctrl-C, Ctrl-D or "n"
# at the confirmation cancel without starting anything.
# MESHBENCH_DRY_RUN=1 prints the final command instead of running it.

# shellcheck source=checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

WIZARD_STARTED_COMMAND=0

wizard_cancel() {
  if [ "$WIZARD_STARTED_COMMAND" = 0 ]; then
    printf '\nCancelled; nothing was started.\n' >&2
    exit 130
  fi
}
trap wizard_cancel INT TERM

say() { printf '%s\n' "$*" >&2; }

# ask VAR "Question" DEFAULT VALIDATOR ["what is allowed"]
ask() {
  local __var=$1 question=$2 default=$3 validator=$4 allowed=${5:-}
  local answer
  while true; do
    if ! IFS= read -r -p "$question [$default]: " answer; then
      say ''
      say 'Cancelled (end of input); nothing was started.'
      exit 130
    fi
    answer=${answer#"${answer%%[![:space:]]*}"}
    answer=${answer%"${answer##*[![:space:]]}"}
    [ -z "$answer" ] && answer=$default
    if "$validator" "$answer"; then
      printf -v "$__var" '%s' "$answer"
      return 0
    fi
    say "  \"$answer\" is not valid${allowed:+: $allowed}. Please try again."
  done
}

# ask_yes_no VAR "Question" DEFAULT(yes|no)
ask_yes_no() {
  local __var=$1 question=$2 default=$3 answer
  while true; do
    if ! IFS= read -r -p "$question (yes/no) [$default]: " answer; then
      say ''
      say 'Cancelled (end of input); nothing was started.'
      exit 130
    fi
    [ -z "$answer" ] && answer=$default
    case "${answer,,}" in
      y | yes) printf -v "$__var" '%s' yes; return 0 ;;
      n | no) printf -v "$__var" '%s' no; return 0 ;;
      *) say "  Please answer yes or no (y/n)." ;;
    esac
  done
}

is_existing_file() { [ -f "$1" ] && [ -r "$1" ]; }

# Checks a hosts env file: node 0 is defined, and every key file it names is readable.
check_hosts_file() {
  local file=$1 ok=0 line key value
  if ! grep -Eq '^[[:space:]]*(export[[:space:]]+)?MYSTICETI_NODE0_HOST=' "$file" && ! grep -Eq '^[[:space:]]*hosts:' "$file"; then
    say "  check: $file defines no MYSTICETI_NODE0_HOST (nor a YAML hosts: list)"
    return 1
  fi
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?(MYSTICETI_NODE[0-9]+_SSH_KEY)=(.*)$ ]] || continue
    key=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    value=${value%\"}
    value=${value#\"}
    value=${value/#\~/$HOME}
    if [ ! -r "$value" ]; then
      say "  check: $key=$value is not a readable key file"
      ok=1
    fi
  done <"$file"
  return $ok
}

# Environment checks shared by the wizards. Fatal unless MESHBENCH_DRY_RUN=1.
check_environment() {
  local need_docker=$1 failed=0 major minor
  if command -v node >/dev/null 2>&1; then
    IFS=. read -r major minor _ <<<"$(node -p 'process.versions.node')"
    if [ "$major" -gt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; }; then
      say "  check: Node.js $(node --version) ok"
    else
      say "  check: Node.js $(node --version) is too old; meshbench needs >= 20.19"
      failed=1
    fi
  else
    say '  check: node is not installed; install Node.js >= 20.19'
    failed=1
  fi
  if [ -d dist/cli ]; then
    say '  check: meshbench is built'
  else
    say '  check: meshbench is not built (no dist/cli); run npm run setup (or npm run build)'
    failed=1
  fi
  if [ "$need_docker" = yes ]; then
    if docker info >/dev/null 2>&1; then
      say '  check: Docker engine answers'
    else
      say '  check: the Docker engine does not answer; run bash scripts/ensure-docker.sh'
      failed=1
    fi
  fi
  if [ "$failed" = 1 ]; then
    if [ "${MESHBENCH_DRY_RUN:-0}" = 1 ]; then
      say '  (dry run: going on despite the failed checks)'
    else
      say 'Fix the failed checks above and run this script again.'
      exit 1
    fi
  fi
}

# Prints the command; runs it unless MESHBENCH_DRY_RUN=1. Exits with its status.
run_final() {
  local printed
  printed=$(shell_join "$@")
  say ''
  say "Command: $printed"
  if [ "${MESHBENCH_DRY_RUN:-0}" = 1 ]; then
    printf '%s\n' "$printed"
    exit 0
  fi
  WIZARD_STARTED_COMMAND=1
  trap - INT TERM
  exec "$@"
}
