#!/usr/bin/env bash
# SO_PEERCRED: a client of another uid is refused, even when the socket's
# modes are opened up by hand. Needs root and setpriv (or runuser).
. "$(dirname "$0")/lib.bash" "$1"
if [ "$(id -u)" != 0 ]; then echo "skip: needs root to act as nobody"; exit 77; fi
if command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
elif command -v runuser >/dev/null; then
  as_nobody() { runuser -u nobody -- "$@"; }
else
  echo "skip: neither setpriv nor runuser"; exit 77
fi
"$M" ping >/dev/null
d=$(daemon_pids)
# Open the way (as a careless admin would): only the uid check is left.
chmod 755 "$tmp" "$MUSTER_HOME"
chmod 666 "$MUSTER_HOME/daemon.sock"
# The binary and its library must be reachable by nobody.
muster_for_anyone
wait_sampled
fds=$(daemon_fds "$d")
out=$(as_nobody env LD_LIBRARY_PATH="$tmp" MUSTER_HOME="$MUSTER_HOME" "$tmp/muster" ls 2>&1) &&
  fail "nobody could list: $out"
echo "$out"
grep -q "EACCES\|only its own user" <<<"$out" || fail "refusal: $out"
# nobody cannot start a daemon of its own there either, nor harm ours.
"$M" ping | grep -q "pid $d," || fail "daemon harmed"
sleep 0.2
[ "$(daemon_fds "$d")" = "$fds" ] || fail "fds $fds -> $(daemon_fds "$d")"
finish
