#!/usr/bin/env bash
# `make run` (issue 10 §7): scripts/run-main.sh, not on a terminal, does
# every step and stops by itself: 2 instances of the HTTP example and a
# Python app listed, an instance killed with SIGKILL and restarted, logs,
# save, kill -9 of the daemon, resurrect, an HTTP answer, then kill; and
# it leaves no process behind.
. "$(dirname "$0")/lib.bash" "$1"
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
src=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
MUSTER_RUN_SECONDS=1 timeout 100 "$src/scripts/run-main.sh" "$build" </dev/null \
  >"$tmp/run.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { tail -30 "$tmp/run.out"; fail "run-main.sh exited $rc"; }
for step in '$ muster start' '$ muster ls' '$ kill -9' '$ muster logs' \
  '$ muster save' '$ muster resurrect' 'HTTP/1.1 200 OK' '$ muster kill' \
  'daemon exited'; do
  grep -qF -- "$step" "$tmp/run.out" || { cat "$tmp/run.out"; fail "no \"$step\" in the run"; }
done
# Its home was a temporary one: nothing of it may be left running.
home=$(sed -n 's/^MUSTER_HOME=//p' "$tmp/run.out" | head -1)
[ -n "$home" ] || fail "run-main.sh did not say its home"
left=$(grep -lzxF "MUSTER_HOME=$home" /proc/[0-9]*/environ 2>/dev/null || true)
[ -z "$left" ] || fail "left running: $left"
[ ! -e "$home" ] || fail "its home $home is left"
finish
