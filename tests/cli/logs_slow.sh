#!/usr/bin/env bash
# A follower that stops reading (SIGSTOP) while an app floods: the daemon
# neither stalls nor grows (it drops that follower's lines and counts
# them, and describe shows the count), the app's log file keeps growing,
# other commands answer; once
# the follower reads again it is told how many lines it lost; when it
# goes the daemon has the fds it had.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/flood" "$apps/flood.c" || fail "cannot build the flood app"
logs=$tmp/logs
mkdir -p "$logs"
"$M" start "$tmp/flood" --name hose --output "$logs/hose.log" \
  --error "$logs/hose-err.log" >/dev/null
d=$(daemon_pids)
wait_for '[ -s "$logs/hose.log" ]'
wait_sampled
fds_before=$(daemon_fds "$d")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$d/status"; }
written() { "$M" describe hose | awk '$1 == "log_bytes_written" {print $2}'; }
# Stopped only once it follows (its first byte came): stopped before its
# request reached the daemon, it would have nothing to fall behind on.
mkfifo "$tmp/slow.fifo"
{ head -c 1 >"$tmp/slow.first"; cat >/dev/null; } <"$tmp/slow.fifo" &
drain=$!
"$M" logs hose --follow --lines 0 >"$tmp/slow.fifo" 2>"$tmp/slow.err" &
f=$!
# On a failure too, the stopped follower and the drain go with the test.
trap 'st=$?; kill -CONT $f 2>/dev/null || true; kill $f $drain 2>/dev/null || true; cleanup "$st"' EXIT
wait_for '[ -s "$tmp/slow.first" ]'
kill -STOP $f
sleep 1
before=$(rss)
w1=$(written)
sleep 5
"$M" ping >/dev/null || fail "the daemon does not answer"
w2=$(written)
after=$(rss)
echo "daemon RSS ${before} -> ${after} KiB with a stopped follower; file $w1 -> $w2 bytes"
[ "$w2" -gt "$w1" ] || fail "the app's log stopped growing: $w1 -> $w2"
if grep -qa __asan_init "$M"; then
  echo "RSS bound not checked: sanitizer build"
else
  [ $((after - before)) -le 8192 ] || fail "daemon RSS grew from $before to $after KiB"
fi
# describe counts what the followers of the app's files lost; the file
# itself lost nothing.
desc=$("$M" describe hose)
fb=$(echo "$desc" | awk '$1 == "dropped_follow_bytes" {print $2}')
fl=$(echo "$desc" | awk '$1 == "dropped_follow_lines" {print $2}')
lb=$(echo "$desc" | awk '$1 == "dropped_log_bytes" {print $2}')
echo "describe: dropped_follow_bytes $fb, dropped_follow_lines $fl"
[ "${fl:-0}" -gt 0 ] && [ "${fb:-0}" -ge "$fl" ] ||
  fail "describe does not show the follower's drops: $desc"
[ "$lb" = 0 ] || fail "the file itself dropped $lb bytes"
kill -CONT $f
wait_for 'grep -q "lines dropped (this reader fell behind)" "$tmp/slow.err"' 30
grep -E 'muster: logs: [0-9]+ lines dropped' "$tmp/slow.err" | head -1
kill $f
wait $f || true
wait $drain
wait_for '[ "$(daemon_fds "$d")" = "$fds_before" ]'
finish
