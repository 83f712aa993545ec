#!/usr/bin/env bash
# bench/manager: the muster process manager against PM2, side by side in
# one run, with the same apps.
#
#   bench/manager.sh [BUILD_DIR]          (default: build)
#   env: PM2=/path/to/pm2 (skip the npm install; otherwise PM2 is installed
#        with `npm install --prefix <tmp> pm2` and removed at the end)
#        NO_PM2=1  LS_RUNS=15  MANY=1000  FLOOD_SECONDS=3  FLOOD_MB=1000
#        FLOOD_CHUNK=64000
#        MBENCH_PORT=19100 (muster uses ports +0..+9, PM2 +50..+59)
# Takes about three minutes (most of it PM2 starting 1,000 apps).
#
# Apps: bench/manager/app.c (built here with cc: a tiny HTTP server, or a
# stdout flood) and bench/manager/app.js (a Node HTTP server), 5 of each,
# each on its own port of 127.0.0.1. The figures (bench/manager/drive.py),
# each manager with its own home in a temporary directory:
#   rss_idle_kb, rss_10_kb, rss_100_kb, rss_1000_kb
#                VmRSS of the daemon (PM2: the "God Daemon") idle, with the
#                10 apps, with 100 and 1,000 `sleep 3600` apps (fork mode,
#                started from ecosystem files of 100, then 900 more)
#   anon_{idle,10,100,1000}_kb
#                the private part of that RSS (RssAnon): the rest is pages
#                of shared libraries (libc alone maps ~1.2 MB of them)
#   start_{c,node}_ms, start_listen_{c,node}_ms
#                wall time of `start` of one app; from the start of that
#                command to the app accepting a connection (polled every
#                1 ms); median over the 5 apps of each kind
#   kill_newpid_{c,node}_ms, kill_listen_{c,node}_ms
#                SIGKILL of an app's process to a new child of the daemon
#                (the replacement's pid, polled every 0.2 ms in
#                /proc/<daemon>/task/*/children), and to the replacement
#                accepting a connection (median of 10)
#   ls_N_ms, jlist_N_ms (N = 10, 100, 1000)
#                wall time of the CLI command, median of LS_RUNS runs (a
#                third of that with 100 and 1,000 apps)
#   true_N_ms    /bin/true timed the same way just before: what starting
#                any program costs on the machine at that moment
#   floor_N_ms   an empty static C program (built here) timed the same
#                way: process creation alone, the floor of any CLI;
#   *_over_floor_ms  ls, jlist (N apps) and start (10 apps) minus it
#   hf_{ls,ping,true,floor}_ms, hf_{ls,ping}_over_floor_ms
#                the same commands under `hyperfine -N` (no shell), with
#                10 apps: median of 20*LS_RUNS runs (PM2: LS_RUNS); skipped
#                without hyperfine
#   hf_raw_ms, hf_ls_over_raw_ms (muster only)
#                the raw limit of a CLI call, timed with them: ls's request
#                and reply with bare system calls (bench/manager/rawls.c,
#                static), no CLI; and how far ls is above it
#   log_mb_s, log_cpu_s_per_mb, log_rss_before_kb, log_rss_after_kb
#                an app writing 100-byte lines as fast as it can for
#                FLOOD_SECONDS (FLOOD_MB at most), FLOOD_CHUNK bytes a
#                write: MB/s into its log file (muster rotates it every
#                10 MiB by default: there the bytes its writer counts,
#                from `describe`), daemon CPU seconds (user + system,
#                /proc/<pid>/stat) per MB, daemon RSS before and after.
#                64000-byte writes by default: with 6400 (the old
#                default), the app's own writes to its socket cost more
#                CPU than the daemon does, and the app is the limit
#   log_relay_mb_s
#                the yardstick, measured just before: the same app into a
#                bare relay (`app relay`: read 64 KiB, write it to a
#                file, nothing else), what a manager without framing,
#                rotation or an event loop would get at that moment
#   start_100_s, start_900_s, delete_1000_s
#                `start` of the ecosystem files; `delete all` of the 1,000
# Each figure is printed with its ratio to PM2's; the last line is one JSON
# object with every figure. Every process of both managers is killed at the
# end, even on failure or Ctrl-C (they all carry MBENCH_TAG in their
# environment).
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
muster=$(cd "$build" && pwd)/muster
die() { echo "bench/manager: $*" >&2; exit 1; }
[ -x "$muster" ] || die "$muster not built"
command -v python3 >/dev/null || die "python3 is needed"
command -v cc >/dev/null || die "cc is needed"

tmp=$(mktemp -d /tmp/bench-manager.XXXXXX)
export MBENCH_TAG=$tmp
pm2=${PM2:-}

# Every process whose environment carries our tag: both daemons and all of
# their apps (they inherit it from the CLI that started the daemon).
tagged() {
  local e p
  for e in /proc/[0-9]*/environ; do
    p=${e#/proc/}; p=${p%/environ}
    [ "$p" = $$ ] && continue
    if { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qxF "MBENCH_TAG=$tmp"; then
      echo "$p"
    fi
  done
}
driver=
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$driver" ]; then kill "$driver" 2>/dev/null || true; fi
  MUSTER_HOME=$tmp/muster timeout 30 "$muster" kill >/dev/null 2>&1 || true
  if [ -n "$pm2" ] && [ -d "$tmp/pm2home" ]; then
    (unset NODE_EXTRA_CA_CERTS; PM2_HOME=$tmp/pm2home timeout 30 "$pm2" kill \
      >/dev/null 2>&1) || true
  fi
  local left
  left=$(tagged)
  if [ -n "$left" ]; then
    echo "bench/manager: killing $(echo "$left" | wc -w) leftover processes" >&2
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cc -O2 -o "$tmp/app" "$here/manager/app.c" || die "cannot build the C app"
export MBENCH_APP_C=$tmp/app MBENCH_APP_JS=$here/manager/app.js
# The floor: an empty program, static (no loader, no library) when the
# machine has libc.a, which is what creating any process costs here.
echo 'int main(void) { return 0; }' >"$tmp/empty.c"
if cc -O2 -static -o "$tmp/empty" "$tmp/empty.c" 2>/dev/null; then
  echo "floor: an empty static program"
else
  cc -O2 -o "$tmp/empty" "$tmp/empty.c" || die "cannot build an empty program"
  echo "floor: an empty dynamic program (no static libc here)"
fi
export MBENCH_FLOOR=$tmp/empty
# The raw limit of a CLI call: muster's list request with bare system
# calls (bench/manager/rawls.c), linked like the floor.
cc -O2 -static -o "$tmp/rawls" "$here/manager/rawls.c" 2>/dev/null \
  || cc -O2 -o "$tmp/rawls" "$here/manager/rawls.c" || die "cannot build rawls"
export MBENCH_RAWLS=$tmp/rawls

if [ -z "$pm2" ] && [ -z "${NO_PM2:-}" ]; then
  echo "installing PM2 from npm into $tmp/npm..."
  # npm itself keeps NODE_EXTRA_CA_CERTS: a proxy may need it for TLS.
  if timeout 180 npm install --silent --prefix "$tmp/npm" pm2 >"$tmp/npm.log" 2>&1 \
      && [ -x "$tmp/npm/node_modules/.bin/pm2" ]; then
    pm2=$tmp/npm/node_modules/.bin/pm2
  else
    echo "bench/manager: npm install pm2 failed; PM2's columns are skipped:" >&2
    tail -3 "$tmp/npm.log" >&2
  fi
fi
unset NODE_EXTRA_CA_CERTS
if [ -n "$pm2" ]; then
  echo "PM2 $(PM2_HOME=$tmp/pm2home "$pm2" --version 2>/dev/null | tail -1)," \
       "node $(node --version)"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

# The driver runs in the background so that a signal runs the trap at
# once (bash defers traps until a foreground command ends).
drive() {
  python3 "$here/manager/drive.py" "$@" > >(tee "$tmp/$1.out") &
  driver=$!
  wait "$driver"
  driver=
}
echo "muster:"
drive muster MUSTER_HOME "$tmp/muster" "$muster"
if [ -n "$pm2" ]; then
  echo "PM2:"
  drive pm2 PM2_HOME "$tmp/pm2home" "$pm2"
  (PM2_HOME=$tmp/pm2home "$pm2" kill >/dev/null 2>&1) || true
fi
MUSTER_HOME=$tmp/muster "$muster" kill >/dev/null 2>&1 || true

python3 - "$tmp/muster.out" "$tmp/pm2.out" <<'PY'
import json, os, sys
def last(p):
    if not os.path.exists(p):
        return {}
    return json.loads(open(p).read().strip().splitlines()[-1])
m, p = last(sys.argv[1]), last(sys.argv[2])
print(f'{"figure":24} {"muster":>10} {"pm2":>10} {"muster/pm2":>11}')
for k, v in m.items():
    q = p.get(k)
    r = f'{v / q:.3f}' if isinstance(v, (int, float)) and q else '-'
    print(f'{k:24} {v!s:>10} {q if q is not None else "-"!s:>10} {r:>11}')
print(json.dumps({'bench': 'manager', 'load': open('/proc/loadavg').read().split()[:3],
                  'muster': m, 'pm2': p}))
PY
