#!/usr/bin/env bash
# The cpu and memory `ls` and `jlist` show are read from /proc at most once
# a second per process (daemon/procstat.c, PROCSTAT_REFRESH_MS) and
# served from that sample in between: never older than a second when
# asked. An app idles, then on SIGUSR1 takes 64 MiB and spins; a second
# after it said so, one `jlist` shows both. A restart shows the new
# process's figures, not the old one's.
. "$(dirname "$0")/lib.bash" "$1"
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
cat >"$tmp/busy.py" <<PY
import signal, sys, time
go = []
signal.signal(signal.SIGUSR1, lambda *a: go.append(1))
while not go:
    time.sleep(0.02)
block = b"x" * (64 << 20)
open("$tmp/busy", "w").close()
while True:
    pass
PY
"$M" start "$tmp/busy.py" --name busy >/dev/null
wait_for '[ "$(jfield 0 "p[\"pm2_env\"][\"status\"]")" = online ]'
pid=$(jfield 0 'p["pid"]')
sleep 1.1
"$M" jlist >"$tmp/idle.json"
mem0=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["monit"]["memory"])' <"$tmp/idle.json")
cpu0=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["monit"]["cpu"])' <"$tmp/idle.json")
echo "idle: memory $mem0, cpu $cpu0"
[ "$mem0" -gt 0 ] && [ "$mem0" -lt $((60 << 20)) ] || fail "idle memory $mem0"
python3 -c "import sys; sys.exit(float('$cpu0') >= 50)" || fail "idle cpu $cpu0"

kill -USR1 "$pid"
wait_for "[ -e $tmp/busy ]"
sleep 1.1
"$M" jlist >"$tmp/busy.json"
read -r mem cpu < <(python3 -c 'import json,sys; m=json.load(sys.stdin)[0]["monit"]; print(m["memory"], m["cpu"])' <"$tmp/busy.json")
echo "busy: memory $mem, cpu $cpu"
[ "$mem" -ge $((64 << 20)) ] || fail "memory $mem a second after the app took 64 MiB"
# (A spinning process may get little of a loaded machine: any share will do.)
python3 -c "import sys; sys.exit(float('$cpu') < 1)" || fail "cpu $cpu a second into a spin"
"$M" ls | grep -q "busy .*online .*[0-9]%  *[6-9][0-9]\.[0-9]mb" || fail "ls: $("$M" ls)"

# A new process: its own figures (the memory of the old one is gone).
rm -f "$tmp/busy"
"$M" restart busy >/dev/null
wait_for '[ "$(jfield 0 "p[\"pid\"]")" != "$pid" ] && [ "$(jfield 0 "p[\"pm2_env\"][\"status\"]")" = online ]'
sleep 1.1
mem1=$(jfield 0 'p["monit"]["memory"]')
echo "after restart: memory $mem1"
[ "$mem1" -gt 0 ] && [ "$mem1" -lt $((60 << 20)) ] || fail "memory after restart $mem1"
finish
