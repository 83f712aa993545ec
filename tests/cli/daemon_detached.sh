#!/usr/bin/env bash
# A daemon started on demand keeps nothing of the shell that ran the CLI:
# none of its descriptors beyond 0-2 (a pipe someone waits on to end would
# never end), none of its blocked or ignored signals (beyond the SIGPIPE
# the daemon ignores itself), not its working directory.
. "$(dirname "$0")/lib.bash" "$1"
trap 'cleanup $?' EXIT

mkdir -p "$tmp/cwd"
exec 7>"$tmp/held-open"
exec 8< <(sleep 60)
reader=$!
held_pipe=$(readlink /proc/$$/fd/8)
(
  cd "$tmp/cwd"
  trap '' HUP USR2 TERM
  # bash cannot block a signal; python can, and then execs the CLI.
  python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGCHLD})
os.execv(sys.argv[1], sys.argv[1:])' "$M" ping >/dev/null
)
exec 7>&- 8<&-
kill "$reader" 2>/dev/null || true

d=$(daemon_pids)
[ -n "$d" ] || fail "no daemon started"
for fd in /proc/$d/fd/*; do
  t=$(readlink "$fd")
  case "$t" in
    "$tmp/held-open" | "$held_pipe") fail "daemon inherited fd ${fd##*/}: $t" ;;
  esac
done
[ "$(readlink "/proc/$d/cwd")" = / ] || fail "daemon cwd: $(readlink "/proc/$d/cwd")"
mask() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$d/status"; }
[ "$(mask SigBlk)" = 0000000000000000 ] || fail "blocked signals: $(mask SigBlk)"
# Of the standard signals, SIGPIPE (13) only: bit 12. (Above 31 are the
# real-time ones, where the C library and a sanitizer's runtime keep
# their own.)
ign=$(( 0x$(mask SigIgn) & 0x7fffffff ))
[ "$ign" = $((0x1000)) ] || fail "ignored signals: $(mask SigIgn)"
# The signals the shell ignored still work on it: SIGTERM ends it.
kill -TERM "$d"
for _ in $(seq 1 100); do live "$d" || break; sleep 0.05; done
live "$d" && fail "daemon ignored SIGTERM"
echo ok
