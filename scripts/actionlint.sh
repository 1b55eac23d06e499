#!/usr/bin/env bash
# Lints the GitHub workflows with actionlint (https://github.com/rhysd/actionlint),
# built from its Go module through the Go module proxy into .asa/bin the first
# time (the same cache as the control-plane binaries; override with
# ASA_BENCH_HOME). Any finding fails: `npm test` runs this before the tests.
#   scripts/actionlint.sh                 lint .github/workflows/*.yml
#   scripts/actionlint.sh FILE...         lint these files
set -euo pipefail
version=v1.7.12
root="$(cd "$(dirname "$0")/.." && pwd)"
bindir="${ASA_BENCH_HOME:-$root/.asa}/bin/actionlint-$version"
bin="$bindir/actionlint"
if [ ! -x "$bin" ]; then
  echo "building actionlint $version (once) into $bindir" >&2
  mkdir -p "$bindir"
  # GOFLAGS=-mod=mod: outside any module, resolve from the proxy; no go.sum is needed at the root.
  GOBIN="$bindir" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$version"
fi
cd "$root"
if [ "$#" -eq 0 ]; then set -- .github/workflows/*.yml; fi
exec "$bin" -no-color "$@"
