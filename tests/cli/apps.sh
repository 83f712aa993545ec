#!/usr/bin/env bash
# Fork mode with real apps in Node, Python and C: interpreters by
# extension, instance variables, ls/jlist/describe/env, stop of a whole
# process group (a grandchild that ignores SIGTERM), restart with and
# without --update-env, signal, reset, delete, crash-loop -> errored.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }

GREETING=hello "$M" start "$apps/worker.py" --name py -i 2 --env EXTRA=1 >/dev/null
"$M" start "$apps/http.js" --name web --namespace front --env PORT=0 >/dev/null
"$M" start "$tmp/ticker" --name ticker >/dev/null
"$M" start "$apps/spawner.sh" --name spawner --kill-timeout 300 >/dev/null

# ls: a table, no color when not on a terminal.
out=$("$M" ls)
echo "$out"
grep -q $'\033' <<<"$out" && fail "color codes in ls on a pipe"
# On a terminal it is colored, unless NO_COLOR is set.
tty_run "$M" ls | grep -q $'\033\\[' || fail "no color in ls on a terminal"
NO_COLOR=1 tty_run "$M" ls | grep -q $'\033\\[' && fail "color in ls despite NO_COLOR"
[ "$(grep -c ' online ' <<<"$out")" = 5 ] || fail "not 5 online"
# jlist in PM2's shape.
"$M" jlist | python3 -c '
import json, sys
apps = json.load(sys.stdin)
assert len(apps) == 5, len(apps)
for p in apps:
    e = p["pm2_env"]
    for k in ("pm_id", "name", "pid"): assert k in p, k
    for k in ("memory", "cpu"): assert k in p["monit"], k
    for k in ("status", "restart_time", "pm_uptime", "exec_mode", "namespace",
              "instances", "pm_exec_path"): assert k in e, k
    assert e["status"] == "online" and p["pid"] > 0, p
    assert e["exec_mode"] == "fork_mode"
assert [p["pm2_env"]["namespace"] for p in apps if p["name"] == "web"] == ["front"]
'
# Instance variables and the environment given at start.
wait_for "grep -q 'python py 1 hello' $MUSTER_HOME/logs/py-out-1.log"
wait_for "grep -q 'python py 0 hello' $MUSTER_HOME/logs/py-out-0.log"
wait_for "grep -q 'to stderr' $MUSTER_HOME/logs/py-err-0.log"
wait_for "grep -q 'c app instance 0' $MUSTER_HOME/logs/ticker-out.log"
[ "$("$M" logs ticker --lines 2 --out | wc -l)" = 2 ] || fail "logs --lines 2"
wait_for "grep -q 'to stderr' $MUSTER_HOME/logs/py-err-1.log"
[ "$("$M" logs py --lines 1 --err | grep -c '|err| to stderr')" = 2 ] ||
  fail "logs --err of 2 instances"
"$M" env py | grep -qx 'NODE_APP_INSTANCE=0' || fail "env NODE_APP_INSTANCE"
"$M" env py | grep -qx 'EXTRA=1' || fail "env EXTRA"
"$M" describe web | grep -q 'environment *as given at start' || fail "describe env source"
wait_for "grep -q listening $MUSTER_HOME/logs/web-out.log"

# Restart keeps the environment it was started with...
GREETING=changed "$M" restart py >/dev/null
wait_for "[ \$(grep -c 'python py 0 hello' $MUSTER_HOME/logs/py-out-0.log) = 2 ]"
# ...unless --update-env.
GREETING=changed "$M" restart py --update-env >/dev/null
wait_for "grep -q 'python py 0 changed' $MUSTER_HOME/logs/py-out-0.log"
"$M" describe py | grep -q 'updated by --update-env' || fail "describe after update-env"
[ "$(jfield 0 'p["pm2_env"]["restart_time"]')" = 2 ] || fail "restart_time"
"$M" reset py >/dev/null
[ "$(jfield 0 'p["pm2_env"]["restart_time"]')" = 0 ] || fail "reset"

# A group stop reaches the grandchild that ignores SIGTERM.
wait_for "grep -q grandchild $MUSTER_HOME/logs/spawner-out.log"
gc=$(awk '/grandchild/ {print $2}' "$MUSTER_HOME/logs/spawner-out.log")
sp=$(jfield 4 'p["pid"]')
live "$gc" || fail "no grandchild"
"$M" stop spawner >/dev/null
live "$gc" && fail "grandchild $gc survived stop"
live "$sp" && fail "spawner $sp survived stop"
[ "$(jfield 4 'p["pm2_env"]["status"]')" = stopped ] || fail "spawner not stopped"

# SIGKILL of an app: restarted with a new pid.
old=$(jfield 3 'p["pid"]')
kill -9 "$old"
wait_for "[ \"\$(jfield 3 'p[\"pid\"]')\" != $old ] && [ \"\$(jfield 3 'p[\"pid\"]')\" != 0 ]"
[ "$(jfield 3 'p["pm2_env"]["restart_time"]')" = 1 ] || fail "restart after SIGKILL"

# signal: SIGTERM to the web app (it exits 0, then is restarted).
"$M" signal SIGTERM web | grep -q 'sent SIGTERM to web' || fail "signal"

# A crash loop ends errored, with the reason in ls.
"$M" start "$tmp/ticker" --name crashy --max-restarts 3 --min-uptime 500 -- 7 >/dev/null
wait_for "[ \"\$(jfield 5 'p[\"pm2_env\"][\"status\"]')\" = errored ]" 20
"$M" ls | grep -q 'crash loop' || fail "no reason in ls"
# stop_exit_codes: exit 7 listed -> stopped, not restarted.
"$M" start "$tmp/ticker" --name once --stop-exit-codes 7 -- 7 >/dev/null
wait_for "[ \"\$(jfield 6 'p[\"pm2_env\"][\"status\"]')\" = stopped ]"
[ "$(jfield 6 'p["pm2_env"]["restart_time"]')" = 0 ] || fail "restarted despite stop_exit_codes"

# Namespace and id selectors, delete.
"$M" stop front | grep -q 'stopped web' || fail "namespace selector"
"$M" delete 3 | grep -q 'deleted ticker' || fail "id selector"
[ "$(jfield 3 'p["pid"]')" = "" ] || fail "3 still listed"
"$M" delete all >/dev/null
[ "$("$M" jlist)" = "[]" ] || fail "delete all"
finish
