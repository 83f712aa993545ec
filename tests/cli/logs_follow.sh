#!/usr/bin/env bash
# `muster logs` streamed by the daemon: --lines, --json, --timestamp, the
# app prefix with several apps; a follower sees apps started after it;
# --follow across ~50 rotations under a burst of 30,000 lines: every line
# once, whole, in order; `logs --follow | head -3` ends at once and leaves
# no fd in the daemon; bad input. Each follower is known to be in place
# before the lines it must see are made: the daemon registers it before it
# sends the history, so the test waits until the history has come (never a
# sleep: under TSan on a loaded machine a follower took longer than one).
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/burst" "$apps/burst.c" || fail "cannot build the burst app"
logs=$tmp/logs
mkdir -p "$logs"
N=30000
cat >"$tmp/eco.json" <<JSON
{"apps": [{"name": "burst", "script": "$tmp/burst",
           "args": ["$N", "50", "5000", "$tmp/go"],
           "out_file": "$logs/burst.log", "error_file": "$logs/burst-err.log",
           "log_max_size": "32K", "log_retain": 1000}]}
JSON
"$M" start "$tmp/eco.json" >/dev/null
"$M" start "$apps/worker.py" --name py >/dev/null
wait_for 'grep -q ready "$logs/burst.log"'
wait_for '"$M" logs py --lines 5 | grep -q "to stderr"'
d=$(daemon_pids)

# --lines: the last lines of out, then err; one app: no prefix.
out=$("$M" logs py --lines 5)
echo "$out" | grep -qx 'python py 0 -' || fail "logs py: $out"
echo "$out" | grep -qx 'to stderr' || fail "logs py (err): $out"
[ "$("$M" logs py --err --lines 5)" = "to stderr" ] || fail "--err"
"$M" logs py --out --lines 5 | grep -q 'to stderr' && fail "--out shows err"
# Several apps: each line says its id and app, err lines say so too.
all=$("$M" logs --lines 5)
echo "$all" | grep -qx '1|py |err| to stderr' || fail "prefix: $all"
echo "$all" | grep -qx '0|burst | ready' || fail "prefix: $all"
# --json: JSON lines with time, app, instance, stream, message.
"$M" logs py --json --lines 5 | python3 -c "
import json, sys
n = 0
for l in sys.stdin:
    o = json.loads(l)
    assert list(o) == ['time', 'app', 'instance', 'stream', 'message'], o
    assert o['app'] == 'py' and o['instance'] == 0, o
    assert o['stream'] in ('out', 'err'), o
    n += 1
assert n == 2, n
" || fail "--json"
# --timestamp: a time in front of followed lines (history has none).
"$M" start "$tmp/burst" --name stamp --output "$logs/stamp.log" \
  --error "$logs/stamp-err.log" -- 3 1 1000 "$tmp/stamp-go" >/dev/null
wait_for 'grep -q ready "$logs/stamp.log"'
"$M" logs stamp --follow --timestamp --lines 1 >"$tmp/stamped" &
f=$!
wait_for 'grep -qx ready "$tmp/stamped"' # the history: in place
touch "$tmp/stamp-go"
wait_for '[ "$(wc -l <"$tmp/stamped")" -ge 4 ]'
kill $f; wait $f || true
[ "$(head -1 "$tmp/stamped")" = ready ] || fail "--timestamp history: $(head -1 "$tmp/stamped")"
grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}: line 00000001 of the burst, padded to be a little longer' \
  "$tmp/stamped" || fail "--timestamp: $(head -3 "$tmp/stamped")"
"$M" logs stamp --follow --json --lines 1 >"$tmp/stamped.json" &
f=$!
wait_for 'grep -q "line 00000003" "$tmp/stamped.json"' # the history
"$M" restart stamp >/dev/null
wait_for 'grep -q ready "$tmp/stamped.json"'
kill $f; wait $f || true
python3 -c "
import json, sys, re
lines = [json.loads(l) for l in open('$tmp/stamped.json')]
assert lines[0]['time'] is None, lines[0]  # the history line
for o in lines[1:]:
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', o['time']), o
" || fail "--follow --json: $(cat "$tmp/stamped.json")"

# A follower of all sees the apps started after it (with their id and
# name), and a follower of a name sees that app deleted and started again.
# Their history is the restarted stamp's last line (its burst is over
# first), not "ready", which only the new stamp prints then.
last='line 00000003 of the burst, padded to be a little longer'
wait_for '[ "$(tail -1 "$logs/stamp.log")" = "$last" ]'
"$M" logs --follow --lines 1 --out >"$tmp/late" &
f=$!
"$M" logs stamp --follow --lines 1 >"$tmp/again" &
g=$!
wait_for 'grep -Eqx "[0-9]+\|stamp \| $last" "$tmp/late"'
wait_for 'grep -qx "$last" "$tmp/again"'
"$M" delete stamp >/dev/null
"$M" start "$tmp/burst" --name late --output "$logs/late.log" \
  --error "$logs/late-err.log" -- 2 1 1000 "$tmp/stamp-go" >/dev/null
"$M" start "$tmp/burst" --name stamp --output "$logs/stamp.log" \
  --error "$logs/stamp-err.log" -- 1 1 1000 "$tmp/stamp-go" >/dev/null
wait_for 'grep -Eqx "[0-9]+\|late \| line 00000002 of the burst, padded to be a little longer" "$tmp/late"'
wait_for 'grep -qx "line 00000001 of the burst, padded to be a little longer" "$tmp/again"'
kill $f $g; wait $f $g || true
grep -Eqx '[0-9]+\|stamp \| ready' "$tmp/late" || fail "follow all: $(cat "$tmp/late")"
grep -qx 'ready' "$tmp/again" || fail "follow stamp: $(cat "$tmp/again")"
[ "$(head -1 "$tmp/again")" = "$last" ] || fail "history of stamp: $(cat "$tmp/again")"

# --follow through rotations: the follower is in place (it printed the
# history line "ready") before the burst starts.
"$M" logs burst --follow --lines 1 >"$tmp/followed" 2>"$tmp/follow.err" &
f=$!
wait_for 'grep -q ready "$tmp/followed"'
touch "$tmp/go"
# (A follower that falls behind loses lines by design: say so at once.)
wait_for '[ "$(wc -l <"$tmp/followed")" -gt $N ] || grep -q dropped "$tmp/follow.err"' 90
kill $f; wait $f || true
n=$(ls "$logs"/burst.log* | wc -l)
echo "burst: $n files, $(wc -l <"$tmp/followed") lines followed"
python3 -c "
import re
lines = open('$tmp/followed').read().split('\n')
assert lines[0] == 'ready', lines[0]
assert lines[-1] == '', 'last line cut: %r' % lines[-1]
body = lines[1:-1]
for k, l in enumerate(body, 1):
    want = 'line %08d of the burst, padded to be a little longer' % k
    assert l == want, 'line %d: %r' % (k, l)
assert len(body) == $N, len(body)
" || fail "the follower lost, repeated or cut lines"
[ -s "$tmp/follow.err" ] && fail "follower: $(cat "$tmp/follow.err")"
[ "$n" -ge 10 ] || fail "only $n files: did the log rotate?"

# A follower whose reader goes (with the history, more than head wants,
# and then no line at all): head ends it at once, and the daemon
# drops the stream (its fds as before).
wait_sampled
fds_before=$(daemon_fds "$d")
start=$(date +%s%N)
timeout 10 bash -c "'$M' logs --follow --lines 5 | head -3 >/dev/null" ||
  fail "logs --follow | head -3 did not end"
echo "logs --follow | head -3: $(( ($(date +%s%N) - start) / 1000000 )) ms"
# even when no line comes after the reader went
timeout 10 bash -c "'$M' logs py --follow --lines 1 | head -1 >/dev/null" ||
  fail "logs --follow | head -1 on a quiet app did not end"
wait_for '[ "$(daemon_fds "$d")" = "$fds_before" ]'

# Bad input.
"$M" logs nope 2>"$tmp/err" && fail "logs nope succeeded"
grep -qx 'muster: logs "nope": no such app' "$tmp/err" || fail "$(cat "$tmp/err")"
set +e
"$M" logs --lines x >/dev/null 2>&1; [ $? = 2 ] || fail "--lines x: not a usage error"
"$M" logs --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "--bogus: not a usage error"
set -e
[ "$(daemon_fds "$d")" = "$fds_before" ] || fail "daemon fds $fds_before -> $(daemon_fds "$d")"
finish
