#!/usr/bin/env bash
# An ecosystem file starts in one request (issue 10 §5): 100 apps all run;
# a file with one app the daemon refuses (a missing script, a name already
# running, a name given twice) starts none of them and names the app.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
# eco FILE N [python expression changing the list `a`]
eco() {
  python3 - "$@" "$tmp/ticker" <<'PY'
import json, sys
path, n, change, ticker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
a = [{"name": "a%d" % i, "script": ticker, "out_file": "/dev/null",
      "error_file": "/dev/null"} for i in range(n)]
exec(change)
json.dump({"apps": a}, open(path, "w"))
PY
}
napps() { "$M" jlist | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

eco "$tmp/missing.json" 100 'a[50]["script"] = "/nonexistent/app"'
out=$("$M" start "$tmp/missing.json" 2>&1) && fail "a file with a missing script started"
grep -q 'start "a50": /nonexistent/app: ENOENT' <<<"$out" || fail "missing script: $out"
[ "$(napps)" = 0 ] || fail "$(napps) apps started from a refused file"

eco "$tmp/twice.json" 10 'a[7]["name"] = "a3"'
out=$("$M" start "$tmp/twice.json" 2>&1) && fail "a file naming two apps alike started"
grep -q 'two apps are named "a3"' <<<"$out" || fail "name given twice: $out"
[ "$(napps)" = 0 ] || fail "$(napps) apps started from a refused file"
# The daemon checks the same for any client, and the shape of "apps".
python3 - "$MUSTER_HOME/daemon.sock" "$tmp/ticker" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
def call(args):
    s.sendall(json.dumps({"v": 1, "id": 1, "cmd": "start", "args": args}).encode() + b"\n")
    return json.loads(f.readline())
app = {"name": "x", "script": sys.argv[2]}
r = call({"apps": [app, dict(app, name="y"), app]})
assert not r["ok"] and r["error"] == "EEXIST", r
assert r["message"] == 'start "x": the name is given to two apps', r
for bad in ({"apps": {"name": "x"}}, {"apps": [app], "app": app}):
    r = call(bad)
    assert not r["ok"] and r["error"] == "EINVAL", r
    assert '"apps" must be an array' in r["message"], r
PY
[ "$(napps)" = 0 ] || fail "$(napps) apps started from a refused request"

eco "$tmp/all.json" 100 ''
"$M" start "$tmp/all.json" >"$tmp/out" || fail "start of 100 apps: $(cat "$tmp/out")"
[ "$(grep -c '^\[muster\] started a' "$tmp/out")" = 100 ] || fail "not 100 started lines"
[ "$(napps)" = 100 ] || fail "$(napps) apps, not 100"
wait_for "[ \$(\"$M\" jlist | python3 -c 'import json,sys; print(sum(p[\"pm2_env\"][\"status\"] == \"online\" for p in json.load(sys.stdin)))') = 100 ]" 30

eco "$tmp/again.json" 3 'a[2]["name"] = "new"'
out=$("$M" start "$tmp/again.json" 2>&1) && fail "a file with running names started"
grep -q 'start "a0": an app named "a0" exists already' <<<"$out" || fail "running name: $out"
[ "$(napps)" = 100 ] || fail "the refused file started something: $(napps) apps"
finish
