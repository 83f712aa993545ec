#!/usr/bin/env bash
# One log flood under muster, for A/B runs of two builds: the daemon's CPU
# per MB, which a loaded machine disturbs much less than MB/s.
#
#   bench/manager/flood.sh MUSTER APP MB [CHUNK]
#
# MUSTER is a muster binary, APP the C app of bench/manager.sh (cc -O2 -o
# app bench/manager/app.c), MB what it writes (in CHUNK-byte writes, 6400
# by default). A fresh MUSTER_HOME in a temporary folder; prints one line:
# MB, seconds from `start` until the writer counted MB (describe's
# log_bytes_written), the daemon's user+system CPU (all its threads) per
# MB, the app's user+system CPU per MB, the daemon's RSS after.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 MUSTER APP MB [CHUNK]" >&2; exit 2; }
m=$1 app=$2 mb=$3 chunk=${4:-6400}
export MUSTER_HOME
MUSTER_HOME=$(mktemp -d /tmp/bench-flood.XXXXXX)
trap '"$m" kill >/dev/null 2>&1 || true; rm -rf "$MUSTER_HOME"' EXIT
"$m" ping >/dev/null
d=$(cut -d' ' -f1 "$MUSTER_HOME/daemon.lock")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(ticks "$d")
t0=$(date +%s.%N)
"$m" start "$app" --name flood --no-autorestart -- flood 600 "$mb" "$chunk" >/dev/null
a=$("$m" jlist | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["pid"])')
want=$(python3 -c "print(int($mb * 1e6) // ($chunk // 100 * 100) * ($chunk // 100 * 100))")
until [ "$("$m" describe flood | awk '$1 == "log_bytes_written" {print $2}')" -ge "$want" ]; do
  sleep 0.1
done
t1=$(date +%s.%N)
c1=$(ticks "$d")
hz=$(getconf CLK_TCK)
python3 -c "
mb, s = $mb, $t1 - $t0
print(f'{mb} MB in {s:.2f} s, daemon {($c1 - $c0) / $hz / mb * 1e3:.3f} CPU ms/MB,'
      f' app {$(ticks "$a") / $hz / mb * 1e3:.3f} CPU ms/MB,'
      f' daemon RSS $(awk '/^VmRSS/ {print $2}' "/proc/$d/status") kB')"
