#!/usr/bin/env bash
# save / resurrect (issue 10 §4): the dump is 0600, versioned, holds the
# declared config and not the CLI's environment; kill -9 of the daemon
# then resurrect, twice, leaves each app running exactly once under one
# daemon; kill -9 in the middle of 1,000 saves (each of another state)
# leaves a dump that parses and equals one of the saved states.
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
  # Its last thread may hold the socket a moment after the apps died: a
  # CLI connecting then would see the connection reset.
  wait_for "! live $d"
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

# kill -9 in the middle of 1,000 saves, each of a different state: every
# tenth save follows the start of one more app (true, stopped at once),
# all on one connection (a save takes about 1 ms: two fsyncs and renames),
# and the client kills the daemon while save number N (random, 300..900)
# is in flight. The dump must parse and equal the state of the last save
# answered or of the one in flight, never a mix or a torn file.
d=$(daemon_pids)
python3 - "$MUSTER_HOME/daemon.sock" "$d" "$dump" <<'PY'
import json, os, random, signal, socket, sys, time
sock, daemon, dump = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = json.load(open(dump))["apps"]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile("rb")
rid = 0
def call(cmd, args=None):
    global rid
    rid += 1
    s.sendall(json.dumps({"v": 1, "id": rid, "cmd": cmd, "args": args or {}}).encode() + b"\n")
def answer():
    r = json.loads(f.readline())
    assert r["ok"], r
    return r
kill_at = random.randint(300, 900)
starts, acked = 0, None
t0 = time.time()
for i in range(1000):
    if i % 10 == 0:
        call("start", {"app": {"name": "s%d" % starts, "script": "/bin/true",
                               "autorestart": False, "out_file": "/dev/null",
                               "error_file": "/dev/null"}})
        answer()
        starts += 1
    call("save")
    if i == kill_at:
        time.sleep(random.random() / 1000)
        os.kill(daemon, signal.SIGKILL)
        break
    answer()
    acked = starts
print("saves answered before the kill: %d in %.2f s" % (kill_at, time.time() - t0))
d = json.load(open(dump))
assert d["muster_dump"] == 1
apps = d["apps"]
n = len(apps) - len(base)
assert n in (acked, starts), "dump of %d new apps; saved %d, in flight %d" % (n, acked, starts)
assert json.dumps(apps[:len(base)], sort_keys=True) == json.dumps(base, sort_keys=True)
names = [a.pop("name") for a in apps[len(base):]]
assert names == ["s%d" % k for k in range(n)], names
assert all(a == apps[len(base)] for a in apps[len(base):]), "specs differ"
PY
echo "kill -9 during 1,000 saves: the dump parses and equals a saved state"
# A CLI that connects while the killed daemon still closes its socket
# would see the connection reset.
wait_for "! live $d"
"$M" resurrect >/dev/null
ls "$MUSTER_HOME" | grep -q 'dump.json.tmp' && fail "the new daemon left a stale temporary file"
finish
