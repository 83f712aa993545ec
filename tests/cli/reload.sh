#!/usr/bin/env bash
# Rolling reload (muster_supervise_replace): a Python HTTP app sharing its
# port with SO_REUSEPORT, 2 instances, hammered by a client during
# `reload`: not one failed request, and every instance has a new pid. A
# reload whose new process exits keeps the old one serving (exit 1, the
# reason in the message and in describe, the old env kept). A wait_ready
# Node app is replaced only once it said "ready"; one that never says it
# keeps the old process (listen_timeout).
. "$(dirname "$0")/lib.bash" "$1"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# The client: one request after another until $1.stop exists; writes
# "<ok> <failed> <pids seen...>" to $1.
hammer() {
  python3 - "$port" "$1" <<'PY' &
import os, socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
ok = failed = 0
pids = set()
# Also ends when the test's folder is gone (a failed test).
while not os.path.exists(out + ".stop") and os.path.isdir(os.path.dirname(out)):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
        s.close()
        if data.startswith(b"HTTP/1.1 200") and b"pid " in data:
            ok += 1
            pids.add(data.split(b"pid ")[1].split()[0].decode())
        else:
            failed += 1
    except OSError as e:
        failed += 1
        print("request failed:", e, file=sys.stderr)
if os.path.isdir(os.path.dirname(out)):
    open(out, "w").write("%d %d %s\n" % (ok, failed, " ".join(sorted(pids))))
PY
  hpid=$!
}
hammer_end() { touch "$1.stop"; wait "$hpid"; }

# min_uptime 2.5 s: "online" for a reload means "still runs after
# min_uptime", and a loaded machine may take a while to even start python.
"$M" start "$apps/reuseport.py" --name web -i 2 --env PORT=$port --min-uptime 2500 >/dev/null
wait_for "[ \$(grep -c listening $MUSTER_HOME/logs/web-out-*.log | grep -c ':1') = 2 ]"
old0=$(jfield 0 'p["pid"]')
old1=$(jfield 1 'p["pid"]')

hammer "$tmp/h1"
sleep 0.5
"$M" reload web >"$tmp/out" || fail "reload: $(cat "$tmp/out")"
sleep 0.3
hammer_end "$tmp/h1"
read -r ok failed pids <"$tmp/h1"
echo "during reload: $ok requests, $failed failed, pids $pids"
[ "$failed" = 0 ] || fail "$failed requests failed during the reload"
[ "$ok" -gt 20 ] || fail "only $ok requests"
new0=$(jfield 0 'p["pid"]')
new1=$(jfield 1 'p["pid"]')
[ "$new0" != "$old0" ] && [ "$new1" != "$old1" ] || fail "pids unchanged"
for p in "$old0" "$old1" "$new0" "$new1"; do
  grep -qw "$p" <<<"$pids" || fail "pid $p never answered ($pids)"
done
live "$old0" && fail "old process $old0 still runs"
live "$old1" && fail "old process $old1 still runs"
[ "$(jfield 0 'p["pm2_env"]["restart_time"]')" = 1 ] || fail "restart_time after reload"
[ "$(jfield 1 'p["pm2_env"]["status"]')" = online ] || fail "not online"

# A broken release: the new process exits at once. The old one serves on.
hammer "$tmp/h2"
sleep 0.5
if FAIL=1 "$M" reload web --update-env >"$tmp/out" 2>"$tmp/err"; then
  fail "a failed reload exited 0"
fi
sleep 0.3
hammer_end "$tmp/h2"
read -r ok failed pids <"$tmp/h2"
cat "$tmp/err"
grep -q "reload \"web\" (id 0) failed: the new process exited (code 3) before it was online; the old process (pid $new0) keeps running; the instances after it were not reloaded" "$tmp/err" ||
  fail "message: $(cat "$tmp/err")"
[ "$failed" = 0 ] || fail "$failed requests failed during a failed reload"
[ "$ok" -gt 0 ] || fail "no request answered during a failed reload"
for p in $pids; do
  [ "$p" = "$new0" ] || [ "$p" = "$new1" ] || fail "served by $p, not the old $new0 $new1"
done
[ "$(jfield 0 'p["pid"]')" = "$new0" ] || fail "pid changed after a failed reload"
[ "$(jfield 1 'p["pid"]')" = "$new1" ] || fail "instance 1 reloaded after instance 0 failed"
"$M" describe web | grep -q 'error .*reload failed: the new process exited (code 3)' ||
  fail "describe: no reason"
"$M" describe web | grep -q 'last_reload .*"failed"' || fail "describe: last_reload"
"$M" env web | grep -q '^FAIL=' && fail "the failed --update-env replaced the env"
[ "$(jfield 0 'p["pm2_env"]["status"]')" = online ] || fail "not online after a failed reload"
# Nothing of the failed process is left.
[ "$(muster_pids | wc -l)" = 3 ] || fail "processes: $(muster_pids)"

# wait_ready (Node): replaced once it said "ready", not before.
if command -v node >/dev/null; then
  "$M" start "$apps/ready.js" --name rd --wait-ready --listen-timeout 4000 \
    --env READY_DELAY=300 >/dev/null
  wait_for "[ \"\$(jfield 2 'p[\"pm2_env\"][\"status\"]')\" = online ]"
  old=$(jfield 2 'p["pid"]')
  "$M" reload rd >/dev/null || fail "wait_ready reload"
  new=$(jfield 2 'p["pid"]')
  [ "$new" != "$old" ] || fail "wait_ready: pid unchanged"
  live "$old" && fail "wait_ready: old process still runs"
  # "ready NEW" was logged before the old one was stopped: the old one
  # ran until then (it is gone now, and the new one said ready).
  grep -q "ready $new" "$MUSTER_HOME/logs/rd-out.log" || fail "no ready from $new"
  if NO_READY=1 "$M" reload rd --update-env 2>"$tmp/err"; then
    fail "a reload without ready exited 0"
  fi
  grep -q 'did not send "ready" within 4000 ms (listen_timeout); the old process (pid '"$new"') keeps running' "$tmp/err" ||
    fail "message: $(cat "$tmp/err")"
  [ "$(jfield 2 'p["pid"]')" = "$new" ] || fail "pid changed after a ready timeout"
  live "$new" || fail "the old process died"
else
  echo "node is not installed: wait_ready part skipped"
fi
finish
