#!/usr/bin/env bash
# `ls` asks for the row view ({"fields": "rows"}): the values of the
# jlist shape, one array per app under named columns. A daemon older than
# that answers a jlist array, which `ls` still prints; a reply that is
# neither is an error, not a crash.
. "$(dirname "$0")/lib.bash" "$1"
"$M" start sleep --name one -- 3600 >/dev/null
"$M" start sleep --name two --namespace other -- 3600 >/dev/null
"$M" stop two >/dev/null
# The daemon writes the rows as text itself (daemon/jsontext.c): a name
# that needs escapes reads back the same as jlist's.
"$M" start sleep --name 'q"uo\te é' -- 3600 >/dev/null
wait_for '[ "$(jfield 0 "p[\"pm2_env\"][\"status\"]")" = online ]'

# The rows carry what jlist says, column by column.
python3 - "$MUSTER_HOME/daemon.sock" "$M" <<'PY'
import json, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"v":1,"id":1,"cmd":"list","args":{"fields":"rows"}}\n')
reply = json.loads(s.makefile().readline())
assert reply["ok"] and reply["id"] == 1, reply
cols, rows = reply["result"]["columns"], reply["result"]["rows"]
assert cols == ["pm_id", "name", "namespace", "pid", "status", "restart_time",
                "pm_uptime", "cpu", "memory", "username", "error"], cols
jl = json.loads(subprocess.run([sys.argv[2], "jlist"], capture_output=True,
                               check=True).stdout)
assert len(rows) == len(jl) == 3, (rows, jl)
for row, p in zip(rows, jl):
    r = dict(zip(cols, row))
    env = p["pm2_env"]
    want = {"pm_id": p["pm_id"], "name": p["name"],
            "namespace": env["namespace"], "pid": p["pid"],
            "status": env["status"], "restart_time": env["restart_time"],
            "pm_uptime": env["pm_uptime"], "username": env["username"],
            "error": env["error"]}
    for k, v in want.items():
        assert r[k] == v, (k, r[k], v)
    assert isinstance(r["cpu"], (int, float)) and isinstance(r["memory"], int), r
print("rows match jlist")
PY
out=$("$M" ls)
echo "$out"
grep -Eq '^0 +one +default +fork +[0-9]+ .* online ' <<<"$out" || fail "row one"
grep -Eq '^1 +two +other +fork +0 .* stopped ' <<<"$out" || fail "row two"
grep -Fq '2    q"uo\te é ' <<<"$out" || fail "row three"
finish

# A stand-in for an older daemon: it answers `list` with a jlist array,
# then with something that is not a table.
export MUSTER_HOME=$tmp/old
mkdir -m 700 "$MUSTER_HOME"
python3 - "$MUSTER_HOME/daemon.sock" >"$tmp/fake.log" 2>&1 <<'PY' &
import json, socket, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen(4)
answers = [
    [{"pid": 4242, "name": "legacy", "pm_id": 7,
      "monit": {"memory": 2048, "cpu": 3},
      "pm2_env": {"namespace": "old", "status": "online", "restart_time": 5,
                  "pm_uptime": 0, "username": "someone", "error": ""}}],
    {"no": "table"},
]
for result in answers:
    c, _ = srv.accept()
    f = c.makefile("rwb")
    req = json.loads(f.readline())
    assert req["cmd"] == "list", req
    f.write(json.dumps({"v": 1, "id": req["id"], "ok": True,
                        "result": result}).encode() + b"\n")
    f.flush()
    c.close()
PY
fake=$!
wait_for '[ -S "$MUSTER_HOME/daemon.sock" ]'
out=$("$M" ls) || fail "ls of a jlist array: $out"
echo "$out"
grep -Eq '^7 +legacy +old +fork +4242 .* 5 +online .* 3% +2.0kb +someone' <<<"$out" ||
  fail "the jlist row: $out"
st=0
out=$("$M" ls 2>&1) || st=$?
[ "$st" = 1 ] || fail "ls of a reply that is no table: exit $st: $out"
grep -q 'not a table' <<<"$out" || fail "message: $out"
wait "$fake" || fail "the stand-in daemon: $(cat "$tmp/fake.log")"
echo ok
