#!/usr/bin/env bash
# The daemon: one per MUSTER_HOME under a race of 20 cold CLI calls, a
# second `muster daemon` refused, home 0700 and socket 0600, a clear error
# for an unusable home, and `kill` leaving nothing behind.
. "$(dirname "$0")/lib.bash" "$1"

# 20 CLIs racing on a cold home start exactly one daemon.
pids=()
for i in $(seq 1 20); do
  "$M" ping >"$tmp/ping.$i" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { cat "$tmp"/ping.*; fail "a ping failed"; }; done
n=$(daemon_pids | wc -l)
[ "$n" = 1 ] || fail "$n daemons after 20 racing pings"
d=$(daemon_pids)
bad=$(grep -h pong "$tmp"/ping.* | grep -vc "pid $d," || true)
[ "$bad" = 0 ] || fail "$bad pings were answered by another daemon than $d"
echo "20 racing pings: one daemon ($d)"

# Permissions.
[ "$(stat -c %a "$MUSTER_HOME")" = 700 ] || fail "home mode $(stat -c %a "$MUSTER_HOME")"
[ "$(stat -c %a "$MUSTER_HOME/daemon.sock")" = 600 ] || fail "socket mode"
[ "$(cat "$MUSTER_HOME/daemon.lock")" = "$d" ] || fail "lock file does not name the daemon"

# A second daemon on the same home is refused, and the first one lives on
# with the fds and processes it had.
wait_sampled
fds=$(daemon_fds "$d")
nprocs=$(muster_pids | wc -l)
out=$("$M" daemon 2>&1) && fail "a second daemon started"
grep -q "a daemon already runs for $MUSTER_HOME (pid $d): refused" <<<"$out" ||
  fail "second daemon: $out"
"$M" ping | grep -q "pid $d," || fail "the first daemon is gone"
wait_for '[ "$(daemon_fds "$d")" = "$fds" ]' 3
[ "$(muster_pids | wc -l)" = "$nprocs" ] || fail "processes $nprocs -> $(muster_pids | wc -l)"

# An unusable home: a regular file where the directory should be.
touch "$tmp/file"
out=$(MUSTER_HOME=$tmp/file/home "$M" ping 2>&1) && fail "ping in a bad home succeeded"
grep -q "MUSTER_HOME $tmp/file/home: ENOTDIR" <<<"$out" || fail "bad home: $out"
# A read-only home (root writes anywhere else), when we may mount one.
mkdir -p "$tmp/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro" 2>/dev/null; then
  out=$(MUSTER_HOME=$tmp/ro "$M" ping 2>&1) && { umount "$tmp/ro"; fail "ping in a read-only home succeeded"; }
  umount "$tmp/ro"
  grep -q "MUSTER_HOME $tmp/ro: EROFS" <<<"$out" || fail "read-only home: $out"
else
  echo "(no read-only tmpfs: mount not permitted here)"
fi
# A home path too long for a socket address.
long=$tmp/$(printf 'x%.0s' $(seq 1 120))
out=$(MUSTER_HOME=$long "$M" ping 2>&1) && fail "ping with a long home succeeded"
grep -q "ENAMETOOLONG" <<<"$out" || fail "long home: $out"

# A daemon that does not answer (stopped): the call gives up at its
# timeout and says so; the daemon serves again once continued.
kill -STOP "$d"
t0=$(date +%s%3N)
rc=0
out=$(MUSTER_TIMEOUT=700 "$M" ls 2>&1) || rc=$?
ms=$(($(date +%s%3N) - t0))
rc2=0
out2=$("$M" --timeout 500 describe web 2>&1) || rc2=$?
kill -CONT "$d"
[ "$rc" = 1 ] || fail "ls to a stopped daemon: exit $rc: $out"
grep -qF "muster: list: the daemon did not answer within 700 ms (--timeout)" <<<"$out" ||
  fail "ls to a stopped daemon said: $out"
[ "$ms" -lt 10000 ] || fail "ls to a stopped daemon took $ms ms"
[ "$rc2" = 1 ] && grep -qF "within 500 ms (--timeout)" <<<"$out2" ||
  fail "describe --timeout 500 to a stopped daemon: exit $rc2: $out2"
"$M" ping | grep -q "pid $d," || fail "the daemon did not serve again"

# `kill` stops the daemon; the next call starts a fresh one.
"$M" kill | grep -q "daemon exited" || fail "kill"
wait_for "! live $d" 5
"$M" ping | grep -q pong || fail "no daemon after kill + ping"
[ "$(daemon_pids | wc -l)" = 1 ] || fail "not one daemon after restart"
"$M" kill >/dev/null

# `muster daemon` in the foreground (systemd, containers): it serves; on
# SIGTERM it stops its apps and exits 0.
"$M" daemon &
fg=$!
wait_for '[ -S "$MUSTER_HOME/daemon.sock" ]'
"$M" ping | grep -q "pid $fg," || fail "the foreground daemon does not answer"
"$M" start /bin/sleep --name nap -- 1000 >/dev/null
nap=$(jfield 0 'p["pid"]')
live "$nap" || fail "no app under the foreground daemon"
kill -TERM "$fg"
rc=0
wait "$fg" || rc=$?
[ "$rc" = 0 ] || fail "the foreground daemon exited $rc on SIGTERM"
live "$nap" && fail "app $nap outlived the foreground daemon's SIGTERM"
[ -z "$(daemon_pids)" ] || fail "a daemon is left: $(daemon_pids)"
finish
