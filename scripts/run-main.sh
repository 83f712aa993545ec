#!/usr/bin/env bash
# The main job: the seed notes' examples, run in order, ending with the
# cluster HTTP server (examples/cluster-http).
#
# On a terminal the server runs until Ctrl-C (then stops every worker
# gracefully). When stdin is not a terminal, CI=true, or MUSTER_RUN_SECONDS
# is set, it serves for that many seconds (default 3) instead: it answers a
# few requests made here, reloads its workers once (SIGHUP), answers again,
# and is stopped with SIGINT, which must end it with status 0.
set -euo pipefail
build=${1:-build}
ex=$build/examples
run() {
  echo "== $* =="
  "$@"
  echo
}
run "$ex/spawn-ls"
run "$ex/process-info"

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null ||
    [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}

port=${PORT:-8000}
if port_busy "$port"; then
  old=$port
  # Below the ephemeral range: ports there come and go with connections.
  while port_busy "$port"; do port=$((10000 + RANDOM % 22000)); done
  echo "(port $old is taken: using $port)"
fi
url="http://127.0.0.1:$port/"

if [ -t 0 ] && [ "${CI:-}" != true ] && [ -z "${MUSTER_RUN_SECONDS:-}" ]; then
  echo "== $ex/cluster-http $port =="
  echo "serving $url  (try: curl -i $url ; kill -HUP <primary pid> reloads;"
  echo "               Ctrl-C stops)"
  # Ctrl-C reaches every process of the group: the primary stops its
  # workers in order (they ignore SIGINT themselves) and exits 0.
  status=0
  "$ex/cluster-http" "$port" || status=$?
  echo "cluster-http exited with status $status"
  exit "$status"
fi

# ---- not interactive: a short, self-checking run -----------------------------
seconds=${MUSTER_RUN_SECONDS:-3}
echo "== $ex/cluster-http $port (for ${seconds}s, not on a terminal) =="
"$ex/cluster-http" "$port" &
server=$!
trap 'kill -KILL $server 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do
  port_busy "$port" && break
  sleep 0.01
done

# One HTTP/1.1 request with bash's /dev/tcp; prints the status line, the
# worker header and the body.
get() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  reply=$(tr -d '\r' <&3)
  exec 3<&-
  echo "GET $url -> $(echo "$reply" | head -1); $(echo "$reply" | grep -i '^X-Worker-Pid'); body: $(echo "$reply" | tail -1)"
  case $reply in "HTTP/1.1 200 OK"*) ;; *) echo "bad answer" >&2; return 1 ;; esac
}

get
get
get
sleep 0.2
echo "-- SIGHUP: reload every worker --"
kill -HUP "$server"
sleep 1
get
get
sleep "$(awk -v s="$seconds" 'BEGIN { s -= 1.3; print (s > 0) ? s : 0 }')"
echo "-- SIGINT: stop --"
kill -INT "$server"
status=0
wait "$server" || status=$?
trap - EXIT
if [ "$status" != 0 ]; then
  echo "cluster-http exited with status $status" >&2
  exit 1
fi
echo "cluster-http exited with status 0"
