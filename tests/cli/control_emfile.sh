#!/usr/bin/env bash
# The control socket when the daemon runs out of descriptors: with its
# limit lowered to 40 and 60 clients connected at once, the acceptor
# (muster/acceptor.h) closes the connections it cannot take, says so in
# daemon.log, and goes on: once the clients leave, `ping` answers and the
# daemon holds no descriptor more than before.
. "$(dirname "$0")/lib.bash" "$1"
"$M" ping >/dev/null
d=$(daemon_pids)
wait_sampled
fds=$(daemon_fds "$d")
soft=$(prlimit --pid "$d" --nofile --output SOFT --noheadings)
prlimit --pid "$d" --nofile=40: || fail "prlimit on the daemon"
python3 - "$MUSTER_HOME/daemon.sock" <<'PY'
import socket, sys, time
socks = []
for _ in range(60):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])  # the backlog takes it, accepted or not
    socks.append(s)
# Every connection is either served (ping answered) or closed by the
# daemon at once (read gives b''), none left hanging.
served = closed = 0
for s in socks:
    s.settimeout(20)
    try:
        s.sendall(b'{"v":1,"id":1,"cmd":"ping"}\n')
        got = s.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        got = b''
    if got:
        served += 1
    else:
        closed += 1
for s in socks:
    s.close()
assert served > 0 and closed > 0, (served, closed)
print(f'{served} served, {closed} closed by the daemon')
PY
grep -q 'accepting on the control socket: EMFILE' "$MUSTER_HOME/daemon.log" ||
  fail "no EMFILE in daemon.log: $(tail -5 "$MUSTER_HOME/daemon.log")"
prlimit --pid "$d" --nofile="$soft":
"$M" ping >/dev/null || fail "the daemon does not answer after EMFILE"
wait_for '[ "$(daemon_fds "$d")" = "$fds" ]' 10
finish
