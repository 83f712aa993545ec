#!/usr/bin/env bash
# Apps outliving a killed daemon (issue 10 §4): an app forks a grandchild
# that ignores SIGTERM; kill -9 of the daemon, then `resurrect`, twice per
# round: the new daemon ends the old group (groups.json) before it serves,
# so each app and the grandchild run exactly once under a single daemon.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"

# Processes of app $1 whose command line holds $2 (not zombies).
count() {
  local n=0 f pid
  for f in $(grep -lzxF "MUSTER_APP_NAME=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    grep -qzxF "MUSTER_HOME=$MUSTER_HOME" "$f" 2>/dev/null && live "$pid" &&
      [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$2"* ]] &&
      n=$((n + 1))
  done 2>/dev/null
  echo $n
}

"$M" start "$apps/spawner.sh" --name spawner --kill-timeout 300 >/dev/null
"$M" start "$tmp/ticker" --name ticker >/dev/null
"$M" save >/dev/null
wait_for "[ \$(count spawner sleep) = 1 ]"
[ -s "$MUSTER_HOME/groups.json" ] || fail "no groups.json"

for round in 1 2; do
  old_gc=$(for p in $(pgrep -f '^sleep 1000$'); do
    grep -qzxF "MUSTER_HOME=$MUSTER_HOME" "/proc/$p/environ" 2>/dev/null && echo "$p"
  done; true)
  [ -n "$old_gc" ] || fail "round $round: no grandchild"
  d=$(daemon_pids)
  kill -9 "$d"
  # Its last thread may hold the socket a moment after the apps died: a
  # CLI connecting then would see the connection reset.
  wait_for "! live $d"
  # The main processes die with the daemon; the grandchild does not.
  wait_for "[ \$(count spawner spawner.sh) = 0 ] && [ \$(count ticker $tmp/ticker) = 0 ]"
  live "$old_gc" || fail "round $round: the grandchild died by itself"
  "$M" resurrect >/dev/null
  "$M" resurrect | grep -q 'runs already' || fail "second resurrect started again"
  live "$old_gc" && fail "round $round: grandchild $old_gc of the killed daemon still runs"
  grep -q "outlived the previous daemon" "$MUSTER_HOME/daemon.log" ||
    fail "round $round: the new daemon did not say what it ended"
  wait_for "[ \$(count spawner sleep) = 1 ]"
  sleep 0.3
  [ "$(count spawner spawner.sh)" = 1 ] || fail "round $round: spawner runs $(count spawner spawner.sh) times"
  [ "$(count spawner sleep)" = 1 ] || fail "round $round: $(count spawner sleep) grandchildren"
  [ "$(count ticker "$tmp/ticker")" = 1 ] || fail "round $round: ticker runs $(count ticker "$tmp/ticker") times"
  [ "$(daemon_pids | wc -l)" = 1 ] || fail "round $round: $(daemon_pids | wc -l) daemons"
  echo "round $round: each app and the grandchild once, one daemon"
done

# A clean exit leaves an empty record: nothing is signalled next time.
"$M" kill >/dev/null
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['groups']==[], d" \
  "$MUSTER_HOME/groups.json" || fail "groups.json after kill"
"$M" ping >/dev/null
finish
