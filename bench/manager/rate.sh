#!/usr/bin/env bash
# The steady rate of one log flood under muster, for A/B runs of two
# builds: unlike flood.sh, neither the daemon's start nor the app's counts.
#
#   bench/manager/rate.sh MUSTER APP [SECONDS] [CHUNK]
#
# MUSTER is a muster binary, APP the C app of bench/manager.sh (cc -O2 -o
# app bench/manager/app.c). A fresh MUSTER_HOME in a temporary folder; the
# app floods (CHUNK-byte writes, 64000 by default); from 0.5 s after its
# start, SECONDS (2) of it are measured. Prints one line: MB/s the writer
# counted (describe's log_bytes_written) and the daemon's user+system CPU
# (all its threads, /proc/<pid>/stat) per MB.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MUSTER APP [SECONDS] [CHUNK]" >&2; exit 2; }
m=$1 app=$2 secs=${3:-2} chunk=${4:-64000}
export MUSTER_HOME
MUSTER_HOME=$(mktemp -d /tmp/bench-rate.XXXXXX)
trap '"$m" kill >/dev/null 2>&1 || true; rm -rf "$MUSTER_HOME"' EXIT
"$m" ping >/dev/null
d=$(cut -d' ' -f1 "$MUSTER_HOME/daemon.lock")
"$m" start "$app" --name flood --no-autorestart -- flood 600 1000000 "$chunk" >/dev/null
written() { "$m" describe flood | awk '$1 == "log_bytes_written" {print $2}'; }
ticks() { awk '{print $14 + $15}' "/proc/$d/stat"; }
sleep 0.5
b0=$(written) c0=$(ticks) t0=$(date +%s.%N)
sleep "$secs"
b1=$(written) c1=$(ticks) t1=$(date +%s.%N)
python3 -c "
mb = ($b1 - $b0) / 1e6
print(f'{mb / ($t1 - $t0):.0f} MB/s, daemon {($c1 - $c0) / $(getconf CLK_TCK) / mb * 1e3:.3f} CPU ms/MB')"
