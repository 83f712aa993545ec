#!/usr/bin/env bash
# CPU per call of a CLI command, both sides: the CLI's (perf stat task-clock
# and page faults, N runs) and its daemon's (utime + stime of
# /proc/<daemon>/stat before and after the N runs, divided by N). For
# A/B runs on a loaded machine, where wall times swing 2x.
#
#   bench/manager/cpu_per_call.sh MUSTER_HOME MUSTER_BIN N [command...]
#                                 (default command: ls)
set -euo pipefail
export MUSTER_HOME=$1
bin=$2 n=$3
shift 3
[ $# -gt 0 ] || set -- ls
d=$(head -1 "$MUSTER_HOME/daemon.lock")
ticks() { awk '{print $14 + $15}' "/proc/$d/stat"; }
t0=$(ticks)
out=$(perf stat -r "$n" -e task-clock,page-faults "$bin" "$@" 2>&1 >/dev/null)
t1=$(ticks)
awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" -v what="$*" '
  /task-clock/ { cli = $1 } /page-faults/ { pf = $1 }
  END { printf "%s: CLI %s ms CPU, %s page faults; daemon %.2f ms CPU\n",
        what, cli, pf, t * 1000 / hz / n }' <<<"$out"
