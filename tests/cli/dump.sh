#!/usr/bin/env bash
# save / resurrect (issue 10 §4): the dump is 0600, versioned, holds the
# declared config and not the CLI's environment; kill -9 of the daemon
# then resurrect, twice, leaves each app running exactly once under one
# daemon; kill -9 in the middle of 1,000 saves leaves a dump that parses
# and equals the saved state.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }

out=$("$M" save 2>&1) && fail "empty save succeeded"
grep -q 'no app to save' <<<"$out" || fail "empty save: $out"
SECRET_TOKEN=hunter2 "$M" start "$apps/worker.py" --name py --env GREETING=hi >/dev/null
"$M" start "$apps/http.js" --name web --env PORT=0 >/dev/null
"$M" start "$tmp/ticker" --name ticker >/dev/null
"$M" save | grep -q 'saved 3 apps' || fail "save"
dump=$MUSTER_HOME/dump.json
[ "$(stat -c %a "$dump")" = 600 ] || fail "dump mode $(stat -c %a "$dump")"
grep -q hunter2 "$dump" && fail "the CLI's environment leaked into the dump"
python3 - "$dump" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["muster_dump"] == 1
assert [a["name"] for a in d["apps"]] == ["py", "web", "ticker"], d
assert d["apps"][0]["env"] == {"GREETING": "hi"}, d["apps"][0]["env"]
PY
"$M" save >/dev/null
[ -f "$dump.1" ] || fail "no previous generation"

count() { # processes of app $1 (not zombies)
  local n=0 f pid
  for f in $(grep -lzxF "MUSTER_APP_NAME=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    grep -qzxF "MUSTER_HOME=$MUSTER_HOME" "$f" 2>/dev/null && live "$pid" && n=$((n + 1))
  done 2>/dev/null
  echo $n
}

for round in 1 2; do
  d=$(daemon_pids)
  kill -9 "$d"
  # The apps die with the daemon (parent-death signal).
  wait_for "[ \$(count py) = 0 ] && [ \$(count web) = 0 ] && [ \$(count ticker) = 0 ]" 10
  "$M" resurrect >/dev/null
  "$M" resurrect | grep -q 'runs already' || fail "second resurrect started again"
  for a in py web ticker; do
    wait_for "[ \$(count $a) = 1 ]" 10
  done
  [ "$(daemon_pids | wc -l)" = 1 ] || fail "round $round: $(daemon_pids | wc -l) daemons"
  sleep 0.3
  for a in py web ticker; do
    [ "$(count $a)" = 1 ] || fail "round $round: $a runs $(count $a) times"
  done
  echo "round $round: each app once, one daemon"
done
grep -q 'python py 0 hi' "$MUSTER_HOME/logs/py-out.log" || fail "resurrected env"

# kill -9 in the middle of 1,000 saves.
expected=$(python3 -c "import json; print(json.dumps(json.load(open('$dump'))['apps'], sort_keys=True))")
"$M" ping >/dev/null
python3 - "$MUSTER_HOME/daemon.sock" "$tmp/saves" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    import os
    os.system("ls -la $MUSTER_HOME; ss -xlp | grep daemon.sock; cat $MUSTER_HOME/daemon.log")
    raise
f = s.makefile("rb")
done = 0
try:
    for i in range(1000):
        s.sendall(b'{"v":1,"id":%d,"cmd":"save"}\n' % (i + 1))
        if not f.readline():
            break
        done += 1
        open(sys.argv[2], "w").write(str(done))
except OSError:
    pass
print("saves answered before the kill:", done)
PY
saver=$!
wait_for "[ \$(cat $tmp/saves 2>/dev/null || echo 0) -ge 3 ]" 30
sleep 0.$((RANDOM % 3))
kill -9 "$(daemon_pids)"
wait "$saver" || true
python3 - "$dump" "$expected" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["muster_dump"] == 1
assert json.dumps(d["apps"], sort_keys=True) == sys.argv[2], "dump differs"
PY
echo "kill -9 during saves: the dump parses and equals the saved state"
"$M" resurrect >/dev/null
ls "$MUSTER_HOME" | grep -q 'dump.json.tmp' && fail "the new daemon left a stale temporary file"
finish
