#!/usr/bin/env bash
# Runs every benchmark in bench/ (each prints a final JSON line).
set -euo pipefail
build=${1:-build}
unset NODE_EXTRA_CA_CERTS
for b in "$build"/bench/*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b") =="
  "$b"
done
