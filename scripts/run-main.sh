#!/usr/bin/env bash
# The main job: the seed notes' examples, run in order.
set -euo pipefail
build=${1:-build}
ex=$build/examples
run() {
  echo "== $* =="
  "$@"
  echo
}
run "$ex/spawn-ls"
run "$ex/process-info"
