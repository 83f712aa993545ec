#!/usr/bin/env bash
# `ls` asks for the row view ({"fields": "rows"}): the values of the
# jlist shape under named columns, one line of tab-separated fields per
# app in one string ("lines"). Older daemons answer an array per app
# ("rows") or a jlist array, which `ls` still prints; a reply that is
# none of these is an error, not a crash.
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
cols, text = reply["result"]["columns"], reply["result"]["lines"]
assert text.endswith("\n"), text
unesc = {"\\": "\\", "t": "\t", "n": "\n"}
def field(f):
    out, i = "", 0
    while i < len(f):
        if f[i] == "\\" and i + 1 < len(f):
            out += unesc[f[i + 1]]
            i += 2
        else:
            out += f[i]
            i += 1
    return out
rows = [[field(f) for f in line.split("\t")] for line in text[:-1].split("\n")]
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
        assert r[k] == str(v), (k, r[k], v)
    float(r["cpu"]), int(r["memory"])
print("rows match jlist")
PY
out=$("$M" ls)
echo "$out"
grep -Eq '^0 +one +default +fork +[0-9]+ .* online ' <<<"$out" || fail "row one"
grep -Eq '^1 +two +other +fork +0 .* stopped ' <<<"$out" || fail "row two"
grep -Fq '2    q"uo\te é ' <<<"$out" || fail "row three"
finish

# A stand-in for older daemons: it answers `list` with rows as arrays,
# with a jlist array, then with something that is not a table.
export MUSTER_HOME=$tmp/old
mkdir -m 700 "$MUSTER_HOME"
python3 - "$MUSTER_HOME/daemon.sock" >"$tmp/fake.log" 2>&1 <<'PY' &
import json, socket, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen(4)
answers = [
    {"columns": ["pm_id", "name", "namespace", "pid", "status",
                 "restart_time", "pm_uptime", "cpu", "memory", "username",
                 "error"],
     "rows": [[3, "arrays", "older", 4343, "online", 2, 0, 1.5, 4096,
               "them", ""]]},
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
out=$("$M" ls) || fail "ls of rows as arrays: $out"
echo "$out"
grep -Eq '^3 +arrays +older +fork +4343 .* 2 +online .* 2% +4.0kb +them' <<<"$out" ||
  fail "the row as an array: $out"
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
