# Helpers for the black-box tests of the muster program (sourced, not run).
# Each test gets its own MUSTER_HOME in a fresh temporary folder, and on
# exit, failed or not, its daemon and every process of its apps are killed.
# Usage: . "$(dirname "$0")/lib.bash" BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
M=$build/muster
apps=$(cd "$(dirname "${BASH_SOURCE[0]}")/apps" && pwd)
tmp=$(mktemp -d)
export MUSTER_HOME=$tmp/home
export MUSTER_TIMEOUT=${MUSTER_TIMEOUT:-60000}
unset NODE_EXTRA_CA_CERTS
# python3 may be a pyenv shim: a bash script whose helpers carry an app's
# environment for a while (counted as the app's processes) and take up to
# half a second to start under load. Apps get the interpreter itself.
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || py=
if [ -n "$py" ] && [ "$(dirname "$py")" != "$(dirname "$(command -v python3)")" ]; then
  export PATH=$(dirname "$py"):$PATH
fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Pids of the processes that belong to this test's daemon: the daemon
# itself and every app process (they carry MUSTER_APP_NAME and our home).
muster_pids() {
  local f pid
  for f in $(grep -lzxF "MUSTER_HOME=$MUSTER_HOME" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}
    pid=${pid%/environ}
    if grep -qz '^MUSTER_APP_NAME=' "$f" 2>/dev/null ||
      [ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "muster daemon " ]; then
      echo "$pid"
    fi
  done 2>/dev/null
  return 0
}

# Daemons of this home (by their title).
daemon_pids() {
  local pid
  for pid in $(muster_pids); do
    [ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "muster daemon " ] &&
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
      echo "$pid"
  done 2>/dev/null
  return 0
}

# Runs a command on a pseudo-terminal and prints what it wrote there: the
# output a user sees. (script(1) with stdin at end of file could exit before
# it copied the command's output: seen in CI.)
tty_run() {
  python3 -c '
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
' "$@"
}

live() { # pid: 0 when alive and not a zombie
  [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Under `set -e` a trap must not fail before it gets here: a test's own
# trap passes its status as $1 instead of replaying it with `(exit $st)`,
# which would end the trap at once and leave the daemon running.
cleanup() {
  local status=${1:-$?}
  local pids
  pids=$(muster_pids)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  if [ "$status" != 0 ] && [ -f "$MUSTER_HOME/daemon.log" ]; then
    echo "--- daemon.log" >&2
    tail -20 "$MUSTER_HOME/daemon.log" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

# Waits up to $2 seconds (default 10) for the command $1 to succeed.
wait_for() {
  local i n=$(( ${2:-10} * 20 ))
  for ((i = 0; i < n; i++)); do
    eval "$1" && return 0
    sleep 0.05
  done
  fail "timed out waiting for: $1"
}

# jlist field of the app with pm_id $1: a python expression on `p`.
jfield() {
  "$M" jlist | python3 -c "import json,sys
for p in json.load(sys.stdin):
    if p['pm_id'] == $1: print($2)"
}

daemon_fds() { ls "/proc/$1/fd" | wc -l; }

# Waits until the daemon has sampled every running app's cpu and memory
# (a jlist shows each with memory above 0). The daemon keeps each
# process's /proc/<pid>/stat open from its first sample, and takes none
# in a process's first 100 ms (daemon/procstat.h): count the daemon's
# fds after this, so that a later list does not add one.
wait_sampled() {
  wait_for '"$M" jlist | python3 -c "import json,sys
sys.exit(any(p[\"pid\"] and not p[\"monit\"][\"memory\"] for p in json.load(sys.stdin)))"'
}

# Ends the test: `muster kill`, then nothing of ours may be left.
finish() {
  "$M" kill >/dev/null
  local left
  left=$(muster_pids)
  # The daemon may still be on its way out when its lock is free.
  for pid in $left; do
    for _ in $(seq 1 100); do live "$pid" || break; sleep 0.05; done
    live "$pid" && fail "process $pid survived muster kill: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
  done
  echo "ok"
}

# Copies the muster binary and its library into $tmp (made 0755) for
# another user, and points the sanitizers' suppressions at readable copies:
# the checkout may sit in a private (0700) home. Then "$tmp/muster" runs
# as anyone with LD_LIBRARY_PATH="$tmp".
muster_for_anyone() {
  local v opts supp
  chmod 755 "$tmp"
  cp "$build"/libmuster.so* "$tmp/" 2>/dev/null || true
  cp "$M" "$tmp/muster"
  chmod 755 "$tmp/muster"
  for v in TSAN_OPTIONS ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
    opts=${!v-}
    [ -n "$opts" ] || continue
    case $opts in *suppressions=*)
      supp=$(printf '%s\n' "$opts" | tr ' :' '\n\n' | sed -n 's/^suppressions=//p')
      cp "$supp" "$tmp/$v.supp" && chmod 644 "$tmp/$v.supp"
      export "$v=${opts//$supp/$tmp/$v.supp}" ;;
    esac
  done
}
