#!/usr/bin/env bash
# Runs every benchmark in bench/: the programs built from bench/*.c, then
# the scripts bench/*.sh (those drive other programs, e.g. wrk). Each
# prints its figures and ends with one JSON line.
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
unset NODE_EXTRA_CA_CERTS
for b in "$build"/bench/*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b") =="
  "$b"
done
for s in "$src"/bench/*.sh; do
  [ -x "$s" ] || continue
  echo "== $(basename "$s" .sh) =="
  "$s" "$build"
done
