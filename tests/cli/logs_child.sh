#!/usr/bin/env bash
# Log sources per process, not per instance: a crashed app's partial last
# line is its own line, not the start of the next process's first one.
# And a log pause (the writer's queue full) reaches every process of the
# instance: during a reload, while the old one is still being stopped,
# both the old and the new are held back, and both read again after.
. "$(dirname "$0")/lib.bash" "$1"

# 1. "abc" without a newline, then a crash; restarted.
"$M" start "$apps/partial.sh" --name part --restart-delay 200 >/dev/null
wait_for "[ \$(grep -c '^first' $MUSTER_HOME/logs/part-out.log) -ge 3 ]"
"$M" stop part >/dev/null
log=$MUSTER_HOME/logs/part-out.log
cat "$log"
grep -q 'abcfirst' "$log" && fail "a partial line was joined to the next process's output"
# Every process: "first <pid>" then "abc", each a line of its own.
python3 - "$log" <<'PY' || fail "lines out of shape"
import sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "no newline at the end: %r" % lines[-1]
lines = lines[:-1]
assert len(lines) >= 6 and len(lines) % 2 == 0, lines
for i in range(0, len(lines), 2):
    assert lines[i].startswith("first "), lines[i]
    assert lines[i + 1] == "abc", lines[i + 1]
PY
"$M" delete part >/dev/null

# 2. The out file is a FIFO the test reads only when it wants: no reader,
# the writer's queue fills and the writer pauses the app.
fifo=$tmp/out.fifo
mkfifo "$fifo"
exec 3<>"$fifo" # keeps it open: writes block instead of failing
progress=$tmp/progress
mkdir -p "$progress"
rpid=
reader() { cat "$fifo" >/dev/null & rpid=$!; }
trap 's=$?; [ -z "$rpid" ] || kill "$rpid" 2>/dev/null || true; cleanup "$s"' EXIT
reader
PROGRESS=$progress "$M" start "$apps/pressure.py" --name pr --output "$fifo" \
  --error "$tmp/pr-err.log" --kill-timeout 25000 --min-uptime 1000 >/dev/null
wait_for "[ \$(ls $progress | wc -l) = 1 ]"
old=$(ls "$progress")
count() { cat "$progress/$1" 2>/dev/null || echo 0; }
# Moves on (1) or is held back (0) over a second.
moving() {
  local a b
  a=$(count "$1")
  sleep 1
  b=$(count "$1")
  [ "$a" != "$b" ]
}
moving "$old" || fail "the app does not run"

"$M" reload pr >"$tmp/reload.out" 2>&1 &
rl=$!
# The new process is online after min_uptime; the old one then ignores
# SIGTERM: it is being stopped for the 25 s of its kill timeout.
wait_for "[ \$(ls $progress | wc -l) = 2 ]"
new=$(ls "$progress" | grep -vx "$old")
sleep 2
moving "$new" || fail "the new process does not run"
moving "$old" || fail "the old process does not run while it is stopped"
# No reader: the queue fills, the writer pauses both.
kill "$rpid"
wait "$rpid" 2>/dev/null || true
sleep 2
moving "$old" && fail "the pause did not reach the old process"
moving "$new" && fail "the pause did not reach the new process"
# A reader again: both are read again.
reader
moving "$old" || fail "the old process was not resumed"
moving "$new" || fail "the new process was not resumed"
[ "$(jfield 1 'p["pm2_env"]["status"]')" = online ] || fail "not online"
wait "$rl" || fail "reload: $(cat "$tmp/reload.out")"
live "$old" && fail "the old process outlived its kill timeout"
[ "$(jfield 1 'p["pid"]')" = "$new" ] || fail "not the new pid after the reload"
finish
