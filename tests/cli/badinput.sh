#!/usr/bin/env bash
# Bad input (issue 10 §6), each with its exact error, and none may leak an
# fd or a process in the daemon: malformed, oversized and unknown requests
# on the socket; unknown apps, missing scripts, duplicate names, bad
# signals and numbers on the command line. The daemon's fds and the
# processes of the home are counted before and after each case.
. "$(dirname "$0")/lib.bash" "$1"
"$M" ping >/dev/null
d=$(daemon_pids)
"$M" start "$apps/worker.py" --name py >/dev/null
# The count starts once the app is python itself: python3 may be a pyenv
# shim (bash) whose helpers, with the app's environment, come and go first.
app_pid=$(jfield 0 'p["pid"]')
wait_for 'case "$(readlink /proc/$app_pid/exe)" in *python*) true ;; *) false ;; esac'
wait_for '[ "$(muster_pids | wc -l)" = 2 ]'
sleep 0.3
wait_sampled
fds=$(daemon_fds "$d")
nprocs=$(muster_pids | wc -l)

# The daemon's fds and the home's processes are back to what they were
# (a closed connection takes the daemon a moment to see).
unchanged() { # what
  local i
  for i in $(seq 1 60); do
    [ "$(daemon_fds "$d")" = "$fds" ] && [ "$(muster_pids | wc -l)" = "$nprocs" ] &&
      return 0
    sleep 0.05
  done
  fail "$1: daemon fds $fds -> $(daemon_fds "$d"), processes $nprocs -> $(muster_pids | wc -l)"
}

expect() { # status, expected text, command...
  local want=$1 text=$2 out rc=0
  shift 2
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || fail "$*: exit $rc, wanted $want: $out"
  grep -qF -- "$text" <<<"$out" || fail "$*: wanted \"$text\" in: $out"
  unchanged "$*"
}
expect 1 'muster: stop "nope": no such app' "$M" stop nope
expect 1 'muster: restart "42": no such app' "$M" restart 42
expect 1 'muster: describe "nope": no such app' "$M" describe nope
expect 1 "$tmp/missing.js: ENOENT" "$M" start "$tmp/missing.js"
expect 1 'an app named "py" exists already' "$M" start "$apps/worker.py" --name py
expect 2 'not a signal' "$M" signal SIGNOPE py
expect 2 'not a number' "$M" start "$apps/worker.py" --max-restarts lots
expect 2 'not a number' "$M" start "$apps/worker.py" -i -3
expect 2 'not a signal' "$M" start "$apps/worker.py" --kill-signal SIGWHAT
expect 2 'unknown command' "$M" frobnicate
expect 2 'unknown option' "$M" start "$apps/worker.py" --bogus
expect 2 'which app' "$M" stop
expect 1 'not executable' "$M" start "$apps/ticker.c"
expect 1 'save: no app to save' env MUSTER_HOME="$tmp/other" "$M" save
# What the errors above refuse, asked for: --force starts a second app of
# the name; save --force writes the empty list.
MUSTER_HOME="$tmp/other" "$M" start /bin/sleep --name nap -- 1000 >/dev/null
MUSTER_HOME="$tmp/other" "$M" start /bin/sleep --name nap --force -- 1000 >/dev/null ||
  fail "start --force of a name in use"
[ "$(MUSTER_HOME="$tmp/other" "$M" jlist | python3 -c 'import json,sys; print(sum(p["name"] == "nap" for p in json.load(sys.stdin)))')" = 2 ] ||
  fail "start --force: not two apps named nap"
MUSTER_HOME="$tmp/other" "$M" delete all >/dev/null
MUSTER_HOME="$tmp/other" "$M" save --force | grep -q 'saved 0 apps' || fail "save --force of no app"
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['apps'] == []" "$tmp/other/dump.json" ||
  fail "save --force: the dump is not the empty list"
MUSTER_HOME="$tmp/other" "$M" kill >/dev/null

# Raw requests on the socket.
python3 - "$MUSTER_HOME/daemon.sock" "$d" "$fds" <<'PY'
import json, os, socket, sys, time
path, daemon, fds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def unchanged(what):
    for _ in range(60):
        now = len(os.listdir("/proc/%s/fd" % daemon))
        if now == fds:
            return
        time.sleep(0.05)
    raise AssertionError("%s: daemon fds %d -> %d" % (what, fds, now))
def talk(payload, want, close_expected=False):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        assert close_expected
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    reply = json.loads(data)
    assert reply["ok"] is False and reply["error"] == want, (payload[:80], reply)
    if not close_expected:
        # The connection stays usable after a bad line.
        s.sendall(b'{"v":1,"id":5,"cmd":"ping"}\n')
        ok = json.loads(s.makefile().readline())
        assert ok["ok"] and ok["id"] == 5, ok
    s.close()
    unchanged(payload[:40])
    return reply
talk(b'not json\n', "EBADMSG")
talk(b'[1,2]\n', "EBADMSG")
talk(b'{"v":1,"id":3}\n', "EBADMSG")
r = talk(b'{"v":1,"id":4,"cmd":"frob"}\n', "ENOSYS")
assert r["id"] == 4, r
talk(b'{"v":99,"id":4,"cmd":"ping"}\n', "EPROTONOSUPPORT")
talk(b'{"v":1,"id":4,"cmd":"ping","args":[]}\n', "EBADMSG")
talk(b'{"v":1,"id":6,"cmd":"stop","args":{"target":17}}\n', "EINVAL")
talk(b'{"v":1,"id":6,"cmd":"start","args":{"app":{"script":3}}}\n', "EINVAL")
talk(b'{"v":1,"id":6,"cmd":"signal","args":{"target":"py","signal":"nope"}}\n', "EINVAL")
# Arguments of the wrong shape (manager/daemon/cmdargs.c): an error that
# names them, and nothing done.
for payload, said in (
        (b'{"v":1,"id":6,"cmd":"start","args":{"app":{"name":"e","script":"/bin/true"},"env":{"A":1}}}',
         'start: "env" must be an object of strings'),
        (b'{"v":1,"id":6,"cmd":"start","args":{"app":{"name":"e","script":"/bin/true"},"env":{"A=B":"c"}}}',
         "each name without '='"),
        (b'{"v":1,"id":6,"cmd":"restart","args":{"target":"py","update_env":true,"set_env":{"X":2}}}',
         'restart: "set_env" must be an object of strings'),
        (b'{"v":1,"id":6,"cmd":"reload","args":{"target":"py","update_env":"yes"}}',
         'reload: "update_env" must be true or false'),
        (b'{"v":1,"id":6,"cmd":"save","args":{"force":1}}',
         'save: "force" must be true or false'),
        (b'{"v":1,"id":6,"cmd":"list","args":{"fields":"everything"}}',
         'list: "fields" must be "table" or "rows"'),
        (b'{"v":1,"id":6,"cmd":"start","args":{}}',
         'start: "app" (an object) or "apps" (an array) is needed'),
        (b'{"v":1,"id":6,"cmd":"delete","args":{}}',
         'delete: "target" must be an app')):
    r = talk(payload + b'\n', "EINVAL")
    assert said in r["message"], (payload, r)
talk(b'\xff\xfe\x00\n', "EBADMSG")
# Oversized: the daemon answers, then closes.
talk(b'{"v":1,"id":1,"cmd":"ping","args":{"x":"' + b"a" * (2 << 20) + b'"}}\n',
     "EMSGSIZE", close_expected=True)
# A client that connects and leaves mid-line, many times.
for _ in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b'{"v":1,"id":')
    s.close()
unchanged("200 clients gone mid-line")
print("socket cases ok")
PY

"$M" ping >/dev/null
sleep 0.3
now=$(daemon_fds "$d")
[ "$now" = "$fds" ] || { ls -l "/proc/$d/fd"; fail "daemon fds $fds -> $now"; }
[ "$(daemon_pids)" = "$d" ] || fail "the daemon changed"
echo "daemon fds: $fds before, $now after"
finish
