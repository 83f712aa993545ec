#!/usr/bin/env bash
# Every command that acts on apps takes an id, a name, a namespace or
# `all` (issue 10 §2): restart, reload, reset, signal, stop, delete, each
# with each form, acting on exactly the instances it names: the reply
# names them, and jlist and /proc show the effect on them (a new pid, the
# restarts at 0, a stopped process, status stopped) and none on the
# others.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
"$M" start "$tmp/ticker" --name a --namespace one -i 2 --min-uptime 200 >/dev/null
"$M" start "$tmp/ticker" --name b --namespace two --min-uptime 200 >/dev/null
# The ids a command says it acted on, sorted, on one line.
acted() {
  "$M" "$@" | sed -n 's/^\[muster\] .* (id \([0-9]*\))$/\1/p' | sort -n | tr '\n' ' '
}
# Each instance: id, pid, restarts, status, and its process's state (T
# when stopped by a signal).
state() {
  "$M" jlist | python3 -c 'import json, sys
for p in json.load(sys.stdin):
    try:
        st = open("/proc/%d/stat" % p["pid"]).read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        st = "-"
    e = p["pm2_env"]
    print(p["pm_id"], p["pid"], e["restart_time"], e["status"], st)'
}
# Did the command do to exactly the instances `want` what it says, and
# leave the others as they were?
check() { # cmd want before after
  python3 - "$@" <<'PY'
import sys
cmd, want, before, after = sys.argv[1], set(sys.argv[2].split()), sys.argv[3], sys.argv[4]
rows = lambda t: {l.split()[0]: l.split()[1:] for l in t.splitlines()}
b, a = rows(before), rows(after)
for i in b:
    pid, restarts, status, st = a[i]
    if i not in want:
        assert a[i][:3] == b[i][:3] and (st == "T") == (b[i][3] == "T"), "%s touched %s: %s -> %s" % (cmd, i, b[i], a[i])
    elif cmd in ("restart", "reload"):
        assert pid != b[i][0] and status == "online", "%s: %s %s -> %s" % (cmd, i, b[i], a[i])
    elif cmd == "reset":
        assert int(b[i][1]) > 0 and restarts == "0", "%s: %s %s -> %s" % (cmd, i, b[i], a[i])
    elif cmd == "signal SIGSTOP":
        assert pid == b[i][0] and st == "T", "%s: %s %s -> %s" % (cmd, i, b[i], a[i])
    elif cmd == "stop":
        assert status == "stopped", "%s: %s %s -> %s" % (cmd, i, b[i], a[i])
PY
}
for cmd in restart reload reset "signal SIGSTOP" stop; do
  for case in "1:1 " "a:0 1 " "two:2 " "all:0 1 2 "; do
    sel=${case%%:*} want=${case#*:}
    # every instance has restarts for reset to clear
    [ "$cmd" != reset ] || "$M" restart all >/dev/null
    before=$(state)
    got=$(acted $cmd "$sel")
    [ "$got" = "$want" ] || fail "$cmd $sel acted on \"$got\", wanted \"$want\""
    # a stop signal takes effect after the command returns
    [ "$cmd" != "signal SIGSTOP" ] ||
      wait_for '[ "$(state | awk '"'"'$5 == "T"'"'"' | wc -l)" = $(echo $want | wc -w) ]'
    check "$cmd" "$want" "$before" "$(state)" || fail "$cmd $sel"
    [ "$cmd" != "signal SIGSTOP" ] || "$M" signal SIGCONT all >/dev/null
    [ "$cmd" != "signal SIGSTOP" ] || wait_for '! state | awk '"'"'$5 == "T"'"'"' | grep -q .'
  done
  echo "$cmd: by id, name, namespace and all, on exactly those"
done
[ "$(acted delete 1)" = "1 " ] || fail "delete 1"
[ "$(acted delete two)" = "2 " ] || fail "delete two"
[ "$(acted delete a)" = "0 " ] || fail "delete a"
"$M" start "$tmp/ticker" --name c >/dev/null
[ "$(acted delete all)" = "3 " ] || fail "delete all"
[ "$("$M" jlist)" = "[]" ] || fail "apps left after delete all"
finish
