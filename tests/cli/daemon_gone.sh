#!/usr/bin/env bash
# A daemon that goes under a call (issue 10 §1): a read (ls, jlist, ping,
# describe) whose reply is lost is asked once more of a fresh daemon; any
# other command says the daemon went away and exits 1. Never a hang, never
# half a table, never exit 0 without the whole reply.
. "$(dirname "$0")/lib.bash" "$1"
mkdir -m 700 -p "$MUSTER_HOME"
# The stand-in daemons and the readers below are ours to end, too.
bg=()
trap 'st=$?; kill "${bg[@]}" 2>/dev/null || true; cleanup "$st"' EXIT

# A stand-in for a daemon dying mid-reply: it accepts, reads the request,
# writes half a reply line and closes; after $1 connections it removes its
# socket and exits. It counts the connections in $tmp/fake.count.
cat >"$tmp/fake.py" <<'PY'
import os, socket, sys
home, limit = sys.argv[1], int(sys.argv[2])
path = home + "/daemon.sock"
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
open(home + "/../fake.ready", "w").close()
for n in range(1, limit + 1):
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b'{"v":1,"id":1,"ok":true,"result":[{"pm_id":0,"name":"HALF')
    open(home + "/../fake.count", "w").write(str(n))
    if n == limit:  # gone before the client can connect again
        os.unlink(path)
        s.close()
    c.close()
PY
fake() { # limit
  rm -f "$tmp/fake.ready" "$tmp/fake.count"
  python3 "$tmp/fake.py" "$MUSTER_HOME" "$1" &
  fake_pid=$!
  bg+=("$fake_pid")
  wait_for '[ -e "$tmp/fake.ready" ]'
}

# 1. ls loses its reply once: asked again of a daemon started on demand.
fake 1
rc=0
timeout 30 "$M" ls >"$tmp/out" 2>"$tmp/err" || rc=$?
wait "$fake_pid"
[ "$rc" = 0 ] || fail "ls after one lost reply: exit $rc: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -q '^id ' || fail "ls printed no table: $(cat "$tmp/out")"
grep -q HALF "$tmp/out" && fail "ls printed half a reply"
[ "$(daemon_pids | wc -l)" = 1 ] || fail "no fresh daemon answered"
"$M" kill >/dev/null

# 2. Lost twice: no retry loop, a clear error, nothing on stdout, exit 1.
for cmd in ls jlist ping "describe web"; do
  fake 2
  rc=0
  timeout 30 "$M" $cmd >"$tmp/out" 2>"$tmp/err" || rc=$?
  wait "$fake_pid"
  [ "$rc" = 1 ] || fail "$cmd lost twice: exit $rc"
  [ -s "$tmp/out" ] && fail "$cmd lost twice printed: $(cat "$tmp/out")"
  grep -q "the daemon went away before it answered (ECONNRESET), twice" "$tmp/err" ||
    fail "$cmd lost twice said: $(cat "$tmp/err")"
done

# A stream (logs) cut by the daemon's death says so, exit 1.
fake 2
rc=0
timeout 30 "$M" logs --lines 5 >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] || fail "logs cut: exit $rc"
grep -q "muster: logs: the daemon went away before the end of the stream (ECONNRESET)" "$tmp/err" ||
  fail "logs cut said: $(cat "$tmp/err")"
kill "$fake_pid" 2>/dev/null || true
wait "$fake_pid" 2>/dev/null || true
rm -f "$MUSTER_HOME/daemon.sock"

# 3. A command with an effect is never sent twice.
for cmd in "stop web" "start $apps/partial.sh" "save --force" "flush"; do
  fake 2
  rc=0
  timeout 30 "$M" $cmd >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" = 1 ] || fail "$cmd lost: exit $rc"
  [ "$(cat "$tmp/fake.count")" = 1 ] || fail "$cmd was sent again"
  grep -q "the daemon went away before it answered (ECONNRESET); the command may have been done in part" "$tmp/err" ||
    fail "$cmd lost said: $(cat "$tmp/err")"
  kill "$fake_pid" 2>/dev/null || true
  wait "$fake_pid" 2>/dev/null || true
  rm -f "$MUSTER_HOME/daemon.sock"
done

# 4. kill -9 of the daemon while `stop` waits for an app that ignores
#    SIGTERM: the stop ends at once, exit 1, says so.
cat >"$tmp/stubborn.sh" <<SH
trap 'echo term >"$tmp/term"' TERM
while :; do sleep 0.1; done
SH
"$M" start "$tmp/stubborn.sh" --name stubborn --kill-timeout 20000 >/dev/null
rm -f "$tmp/term"
t0=$(date +%s%N)
"$M" stop stubborn >"$tmp/out" 2>"$tmp/err" &
stop_pid=$!
wait_for '[ -e "$tmp/term" ]'
kill -9 "$(daemon_pids)"
rc=0
wait "$stop_pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 1 ] || fail "stop under a killed daemon: exit $rc"
grep -q "stop: the daemon went away before it answered" "$tmp/err" ||
  fail "stop under a killed daemon said: $(cat "$tmp/err")"
[ "$ms" -lt 15000 ] || fail "stop took $ms ms after the daemon died"
"$M" ping >/dev/null

# 5. Reads racing `kill` and kill -9, for real: every call ends (no
#    timeout), exit 0 only with the whole answer, exit 1 only with a
#    sentence saying the daemon went away.
reader() { # n cmd...
  local n=$1 i=0 rc
  shift
  while [ ! -e "$tmp/stop" ]; do
    i=$((i + 1))
    rc=0
    timeout 40 "$M" "$@" >"$tmp/r$n.out" 2>"$tmp/r$n.err" || rc=$?
    if [ "$rc" = 0 ]; then
      case $1 in
      jlist) python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1])), list)' \
        "$tmp/r$n.out" 2>/dev/null || echo "$* exit 0 with: $(head -c 300 "$tmp/r$n.out")" >>"$tmp/bad" ;;
      ls) head -1 "$tmp/r$n.out" | grep -q '^id ' ||
        echo "ls exit 0 with: $(head -c 300 "$tmp/r$n.out")" >>"$tmp/bad" ;;
      ping) grep -q '^pong (daemon pid' "$tmp/r$n.out" ||
        echo "ping exit 0 with: $(cat "$tmp/r$n.out")" >>"$tmp/bad" ;;
      esac
    elif [ "$rc" = 1 ] && grep -qE "the daemon (went away|exited twice)" "$tmp/r$n.err" &&
      [ ! -s "$tmp/r$n.out" ]; then
      echo "$*: $(cat "$tmp/r$n.err")" >>"$tmp/lost"
    else
      echo "$* exit $rc: $(cat "$tmp/r$n.err") / $(head -c 300 "$tmp/r$n.out")" >>"$tmp/bad"
    fi
  done
  echo "$i" >"$tmp/calls$n"
}
reader 1 jlist &
r1=$!
reader 2 ls &
r2=$!
reader 3 ping &
r3=$!
bg+=("$r1" "$r2" "$r3")
# At most 16 rounds, and no more than 30 s of them on a loaded machine.
t_end=$(($(date +%s) + 30))
rounds=0
for i in $(seq 1 16); do
  [ "$i" -le 4 ] || [ "$(date +%s)" -lt "$t_end" ] || break
  rounds=$i
  # An app that takes 300 ms to stop: `kill` spends that long exiting.
  "$M" start "$tmp/stubborn.sh" --name "s$i" --kill-timeout 300 >/dev/null 2>&1 || true
  sleep "0.$((RANDOM % 3))"
  if [ $((i % 2)) = 0 ]; then
    rc=0
    timeout 40 "$M" kill >"$tmp/kill.out" 2>"$tmp/kill.err" || rc=$?
    [ "$rc" = 0 ] || grep -q "went away before it answered" "$tmp/kill.err" ||
      fail "kill $i: exit $rc: $(cat "$tmp/kill.err")"
  else
    d=$(daemon_pids)
    [ -z "$d" ] || kill -9 $d 2>/dev/null || true # it may be exiting already
  fi
done
touch "$tmp/stop"
wait "$r1" "$r2" "$r3"
calls=$(($(cat "$tmp/calls1") + $(cat "$tmp/calls2") + $(cat "$tmp/calls3")))
lost=0
if [ -e "$tmp/lost" ]; then lost=$(wc -l <"$tmp/lost"); fi
echo "$calls reads raced $rounds rounds of kill and kill -9; $lost reported a lost daemon"
[ ! -e "$tmp/bad" ] || fail "$(head -5 "$tmp/bad")"
[ "$(daemon_pids | wc -l)" -le 1 ] || fail "$(daemon_pids | wc -l) daemons"
"$M" ping >/dev/null
finish
