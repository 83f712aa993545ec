#!/usr/bin/env bash
# A read (`ls`) that reaches a daemon while it exits (`muster kill`
# stopping an app that ignores SIGTERM) is told so, waits for *that*
# daemon to be gone, then asks the next one, which here takes the home
# the moment the first is gone (started by the test, as a racing CLI
# would). The read once waited for "no daemon at all" instead, and when
# the next daemon took the lock between two of its 5 ms polls it waited
# out its whole timeout (cli_daemon_gone, 1 run in 5 under load). This
# test passes with that old wait too when a poll falls in the gap, so it
# checks the path, not the race: cli_daemon_gone races it for real.
. "$(dirname "$0")/lib.bash" "$1"
trap 'cleanup $?' EXIT

cat >"$tmp/stubborn.sh" <<SH
trap 'echo term >"$tmp/term"' TERM
while :; do sleep 0.1; done
SH
for round in 1 2 3; do
  rm -f "$tmp/term"
  "$M" start "$tmp/stubborn.sh" --name "s$round" --kill-timeout 1500 >/dev/null
  old=$(daemon_pids)
  [ -n "$old" ] || fail "no daemon"
  "$M" kill >/dev/null 2>&1 &
  kill_pid=$!
  wait_for '[ -e "$tmp/term" ]'
  # The daemon is exiting: a read now is told so and waits for it.
  t0=$(date +%s%N)
  MUSTER_TIMEOUT=30000 "$M" ls >"$tmp/ls.out" 2>"$tmp/ls.err" &
  ls_pid=$!
  # The moment the old daemon is gone, a new one takes the home.
  python3 - "$old" "$M" <<'PY'
import os, select, subprocess, sys
fd = os.pidfd_open(int(sys.argv[1]))
select.select([fd], [], [], 20)
subprocess.Popen(["muster", "daemon"], executable=sys.argv[2], stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 start_new_session=True)
PY
  rc=0
  wait "$ls_pid" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  wait "$kill_pid" || true
  [ "$rc" = 0 ] || fail "round $round: ls exit $rc after $ms ms: $(cat "$tmp/ls.err")"
  head -1 "$tmp/ls.out" | grep -q '^id ' || fail "round $round: ls printed: $(cat "$tmp/ls.out")"
  # 1.5 s of kill timeout, then the next daemon: far below the 30 s.
  [ "$ms" -lt 10000 ] || fail "round $round: ls took $ms ms"
  # The ls may have started a daemon too (none answered for a moment):
  # the one that does not get the home's lock gives up within a second.
  sleep 1.5
  wait_for '[ "$(daemon_pids | wc -l)" = 1 ]' 5
done
finish
