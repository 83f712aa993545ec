#!/usr/bin/env bash
# The main job: the process manager at work. In a temporary MUSTER_HOME it
# starts the HTTP example (examples/cluster-http) as 2 instances and a
# Python app, shows `muster ls`, kills an instance with SIGKILL and shows it
# restarted, tails the logs, saves, kills the daemon with SIGKILL,
# resurrects, and cleans up.
#
# On a terminal it then serves until Ctrl-C. When stdin is not a terminal,
# CI=true, or MUSTER_RUN_SECONDS is set, it serves for that many seconds
# (default 1), answering a request made here, and stops.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
M=$build/muster
ex=$build/examples
export MUSTER_HOME
MUSTER_HOME=$(mktemp -d)/home
unset NODE_EXTRA_CA_CERTS

# Whatever happens, the daemon and every app of this home go.
cleanup() {
  "$M" kill >/dev/null 2>&1 || true
  local f
  for f in $(grep -lzxF "MUSTER_HOME=$MUSTER_HOME" /proc/[0-9]*/environ 2>/dev/null); do
    grep -qz '^MUSTER_APP_NAME=' "$f" 2>/dev/null &&
      kill -9 "$(basename "$(dirname "$f")")" 2>/dev/null
  done
  rm -rf "$(dirname "$MUSTER_HOME")"
}
trap cleanup EXIT
trap 'echo; exit 0' INT TERM

run() {
  echo "\$ muster ${*}"
  "$M" "$@"
  echo
}

field() { # pm_id, python expression on p
  "$M" jlist | python3 -c "import json,sys
for p in json.load(sys.stdin):
    if p['pm_id'] == $1: print($2)"
}

wait_until() {
  for _ in $(seq 1 200); do
    eval "$1" && return 0
    sleep 0.05
  done
  echo "timed out: $1" >&2
  return 1
}

echo "MUSTER_HOME=$MUSTER_HOME"
echo
run start "$ex/cluster-http" --name web -i 2 --env PORT=0 --env WORKERS=2
run start "$src/tests/cli/apps/worker.py" --name py
wait_until "[ \$(grep -c serving $MUSTER_HOME/logs/web-out-*.log | grep -c ':1') = 2 ]"
run ls

old=$(field 0 'p["pid"]')
echo "\$ kill -9 $old     # instance 0 of web"
kill -9 "$old"
wait_until "[ \"\$(field 0 'p[\"pid\"]')\" != $old ] && [ \"\$(field 0 'p[\"pm2_env\"][\"status\"]')\" = online ]"
run ls
run logs web --lines 2

run save
daemon=$(cat "$MUSTER_HOME/daemon.lock")
echo "\$ kill -9 $daemon     # the daemon: its apps die with it"
kill -9 "$daemon"
wait_until "! kill -0 $old 2>/dev/null"
sleep 0.3
run resurrect
wait_until "[ \$(grep -c serving $MUSTER_HOME/logs/web-out-0.log) -ge 3 ]"
run ls

port=$(grep -ho 'serving http://127.0.0.1:[0-9]*' "$MUSTER_HOME/logs/web-out-0.log" |
  tail -1 | sed 's/.*://')
url="http://127.0.0.1:$port/"
get() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  reply=$(tr -d '\r' <&3)
  exec 3<&-
  echo "GET $url -> $(echo "$reply" | head -1)"
  case $reply in "HTTP/1.1 200 OK"*) ;; *) echo "bad answer" >&2; return 1 ;; esac
}
get

if [ -t 0 ] && [ "${CI:-}" != true ] && [ -z "${MUSTER_RUN_SECONDS:-}" ]; then
  echo
  echo "serving $url (instance 0 of web); try: MUSTER_HOME=$MUSTER_HOME $M ls"
  echo "Ctrl-C stops every app and the daemon."
  while :; do sleep 3600; done
fi
sleep "${MUSTER_RUN_SECONDS:-1}"
run kill
