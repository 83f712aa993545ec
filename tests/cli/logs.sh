#!/usr/bin/env bash
# App logs through the rotating writer (muster/logfile.h): a flood with a
# small log_max_size rotates, and every line is found exactly once across
# the files, none cut; the daemon's memory stays flat under a 10 s flood
# (the writer pauses the app's pipe instead of buffering); flush empties
# the file; reload-logs reopens it after an outside move; describe shows
# the writer's figures.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/flood" "$apps/flood.c" || fail "cannot build the flood app"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
logs=$tmp/logs
mkdir -p "$logs"
N=100000
cat >"$tmp/eco.json" <<JSON
{"apps": [
  {"name": "flood", "script": "$tmp/flood", "args": ["$N"],
   "out_file": "$logs/flood.log", "error_file": "$logs/flood-err.log",
   "log_max_size": "256K", "log_retain": 100},
  {"name": "ticker", "script": "$tmp/ticker",
   "out_file": "$logs/ticker.log", "error_file": "$logs/ticker-err.log"}
]}
JSON
"$M" start "$tmp/eco.json" >/dev/null

# Every line once, whole, across the current file and its rotations.
lines_in() { cat "$logs"/flood.log* 2>/dev/null | wc -l; }
wait_for '[ "$(lines_in)" -ge $N ]' 60
sleep 0.5
n=$(ls "$logs"/flood.log* | wc -l)
[ "$n" -ge 10 ] || fail "only $n files: no rotation? $(ls "$logs")"
for f in "$logs"/flood.log*; do
  [ "$(stat -c %s "$f")" -le $((256 * 1024)) ] || fail "$f is over log_max_size"
done
cat "$logs"/flood.log* | python3 -c "
import re, sys
seen = [0] * ($N + 1)
for l in sys.stdin:
    m = re.fullmatch(r'line (\d{8}) of the flood, padded to be a little longer\n', l)
    assert m, 'cut or foreign line: %r' % l
    seen[int(m.group(1))] += 1
bad = [i for i in range(1, $N + 1) if seen[i] != 1]
assert not bad, 'lines not seen exactly once: %s' % bad[:10]
" || fail "lines lost, repeated or cut"
"$M" describe flood >"$tmp/describe"
grep -Eq 'log_rotations +([1-9][0-9]*)' "$tmp/describe" || fail "describe: $(cat "$tmp/describe")"
grep -Eq 'log_bytes_written +[1-9]' "$tmp/describe" || fail "describe: no bytes written"
grep -Eq 'dropped_log_bytes +0$' "$tmp/describe" || fail "describe: dropped bytes"

# flush empties the current file; the app goes on writing to it.
wait_for 'grep -q tick "$logs/ticker.log"'
"$M" flush ticker | grep -q 'logs flushed' || fail "flush"
wait_for '[ "$(grep -c "c app instance" "$logs/ticker.log")" = 0 ]'
wait_for 'grep -q tick "$logs/ticker.log"'
# flush without an app: every app's files (it was refused: "a target is
# needed"). The flood app writes no more: its file ends empty.
echo "a line before the flush" >>"$logs/flood.log"
"$M" flush | grep -q 'logs flushed' || fail "flush (all)"
wait_for '[ ! -s "$logs/flood.log" ]'

# reload-logs: after an outside move, the writer opens a new file.
mv "$logs/ticker.log" "$logs/ticker.log.moved"
"$M" reload-logs | grep -q 'logs reopened' || fail "reload-logs"
wait_for '[ -s "$logs/ticker.log" ]'
# and SIGUSR1 does the same
mv "$logs/ticker.log" "$logs/ticker.log.moved2"
kill -USR1 "$(daemon_pids)"
wait_for '[ -s "$logs/ticker.log" ]'

# A flood without end: the daemon's RSS stays flat (within 8 MiB), the
# app is held back instead.
"$M" delete flood >/dev/null
"$M" start "$tmp/flood" --name hose --output "$logs/hose.log" \
  --error "$logs/hose-err.log" >/dev/null
d=$(daemon_pids)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$d/status"; }
sleep 1
before=$(rss)
sleep 10
after=$(rss)
echo "daemon RSS before ${before} KiB, after 10 s of flood ${after} KiB"
# (ASan's quarantine and shadow memory make RSS no measure of our own.)
if grep -qa __asan_init "$M"; then
  echo "RSS bound not checked: sanitizer build"
else
  [ $((after - before)) -le 8192 ] || fail "daemon RSS grew from $before to $after KiB"
fi
"$M" describe hose | grep -Eq 'log_bytes_written +[1-9]' || fail "hose wrote nothing"
"$M" kill >/dev/null 2>&1 || true
