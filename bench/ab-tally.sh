#!/usr/bin/env bash
# Runs `asa-bench ab <args>` N times and tallies the exit codes: how often
# the gate stays green when nothing changed (A/A) or turns red when something
# did. Each run's comparison, log and results stay in the tally folder.
#   bench/ab-tally.sh N <ab arguments...>
# Environment: TALLY_DIR (default: a new /tmp/ab-tally-*), TALLY_LOCK (a file
# to `flock` around each ab, so long measurements on a shared machine do not
# overlap), ASA (the CLI; default: node bin/asa-bench.js from this checkout).
set -uo pipefail
n="$1"; shift
root="${TALLY_DIR:-$(mktemp -d /tmp/ab-tally-XXXXXX)}"
mkdir -p "$root"
cli="${ASA:-node $(cd "$(dirname "$0")/.." && pwd)/bin/asa-bench.js}"
declare -A tally=()
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  # shellcheck disable=SC2086 # $cli is a command line
  ${TALLY_LOCK:+flock "$TALLY_LOCK"} $cli ab "$@" --out "$root/run-$i" > "$root/run-$i.txt" 2> "$root/run-$i.log"
  code=$?
  tally[$code]=$(( ${tally[$code]:-0} + 1 ))
  echo "run $i: exit $code in $(( $(date +%s) - start )) s: $(head -1 "$root/run-$i.txt")"
done
echo "tally over $n runs ($root):"
for code in "${!tally[@]}"; do echo "  exit $code: ${tally[$code]}"; done
