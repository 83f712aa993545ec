#!/usr/bin/env bash
# Clients that go before reading their answer (a killed CLI, `muster logs
# --follow | head`): the daemon's write then fails with EPIPE on that
# connection, and must not raise SIGPIPE (it killed the daemon). The app
# still gets SIGPIPE's default: `yes | head -1` in it ends.
. "$(dirname "$0")/lib.bash" "$1"
"$M" ping >/dev/null
d=$(daemon_pids)
wait_sampled
fds=$(daemon_fds "$d")
for cmd in ping list logs; do
  for _ in $(seq 10); do
    python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect('$MUSTER_HOME/daemon.sock')
s.sendall(b'{\"v\":1,\"id\":1,\"cmd\":\"$cmd\",\"args\":{\"follow\":true}}\n')
s.close()"
  done
done
sleep 0.2
live "$d" || fail "the daemon died of clients that hung up"
[ "$(daemon_pids)" = "$d" ] || fail "another daemon: $(daemon_pids)"
wait_for '[ "$(daemon_fds "$d")" = "$fds" ]'
cat >"$tmp/pipe.sh" <<'SH'
yes | head -1
echo "yes ended: $?"
sleep 60
SH
"$M" start "$tmp/pipe.sh" --name pipe >/dev/null
wait_for '"$M" logs pipe --lines 5 | grep -q "yes ended: 0"'
finish
