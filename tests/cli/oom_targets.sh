#!/usr/bin/env bash
# Out of memory in a command on selected apps (stop, restart, ...) is an
# error reply, not a crash: a preloaded calloc() (apps/fail_calloc.c)
# fails the K-th allocation of the daemon while it answers `stop`, for
# every K from the first to past the last one of that request. Whatever
# allocation fails, the daemon stays up; when it is the command's own
# (registry.c cmd_targets) the reply is `stop "s": out of memory` and the
# app is untouched. The program is muster-api-check, the same objects
# linked against libmuster.so: the static muster has no calloc to
# interpose.
. "$(dirname "$0")/lib.bash" "$1"
if grep -qaE '__(asan|tsan|msan)_init' "$M"; then
  echo "skip: a sanitizer's runtime owns calloc; a preloaded one is not called"
  exit 77
fi
M=$build/muster-api-check
[ -x "$M" ] || { echo "skip: no muster-api-check in $build"; exit 77; }
cc -O1 -shared -fPIC -o "$tmp/fail_calloc.so" "$apps/fail_calloc.c" ||
  fail "cannot build the shim"
export LD_PRELOAD=$tmp/fail_calloc.so MUSTER_FAIL_CALLOC=$tmp/fail
"$M" start /bin/sleep --name s -- 3600 >/dev/null
d=$(daemon_pids)
[ -n "$d" ] || fail "no daemon"
online() { "$M" jlist | python3 -c "import json,sys
print(''.join(p['pm2_env']['status'] for p in json.load(sys.stdin)))"; }
wait_for '[ "$(online)" = online ]'
refused=0
for k in $(seq 1 200); do
  echo "$d $k" >"$tmp/fail"
  st=0
  out=$("$M" stop s 2>&1) || st=$?
  if [ -e "$tmp/fail" ]; then # past the request's last calloc
    rm -f "$tmp/fail"
    [ $st = 0 ] || fail "stop with no failure: $out"
    break
  fi
  live "$d" || fail "the daemon died when calloc #$k failed: $out"
  [ "$(daemon_pids)" = "$d" ] || fail "another daemon after calloc #$k failed"
  if [ $st != 0 ]; then
    echo "calloc #$k failed: $out"
    grep -q "malformed" <<<"$out" && fail "out of memory read as a malformed request"
    if grep -q 'stop "s": out of memory' <<<"$out"; then
      refused=1
      [ "$(online)" = online ] || fail "the app was acted on: $(online)"
    fi
  fi
  [ "$(online)" = online ] || "$M" restart s >/dev/null
  wait_for '[ "$(online)" = online ]'
done
[ "$k" -lt 200 ] || fail "the shim never stopped firing"
[ $refused = 1 ] || fail "no stop was refused with out of memory"
"$M" ping >/dev/null

# `kill` with the K-th calloc failing: the daemon either refuses (and
# serves on) or stops the app and exits cleanly; it never crashes on its
# way out (registry_stop_all allocated its op unchecked).
"$M" restart s >/dev/null
wait_for '[ "$(online)" = online ]'
app=$("$M" jlist | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
live "$app" || fail "no app process"
for k in $(seq 1 200); do
  echo "$d $k" >"$tmp/fail"
  st=0
  # A daemon that drops the connection (out of memory for it) leaves the
  # CLI waiting for an exit that does not come: a short timeout.
  out=$(MUSTER_TIMEOUT=3000 "$M" kill 2>&1) || st=$?
  fired=1
  [ -e "$tmp/fail" ] && fired=0 && rm -f "$tmp/fail"
  # The daemon dying under the request (its lock freed with no reply) is
  # the crash this looks for; it may not be a zombie yet.
  grep -q "went away" <<<"$out" &&
    fail "the daemon died when calloc #$k failed in kill: $out"
  if [ $st = 0 ]; then
    grep -q "every app stopped; daemon exited" <<<"$out" ||
      fail "kill with calloc #$k failing: $out"
    wait_for '! live "$d"' 5
    break
  fi
  [ $fired = 1 ] || fail "kill with no calloc failing: exit $st: $out"
  live "$d" || fail "the daemon died when calloc #$k failed in kill: $out"
  echo "kill with calloc #$k failing: $out"
done
[ $st = 0 ] || fail "the daemon never exited"
! live "$app" || fail "the app outlived the daemon's exit"
grep -aE 'Segmentation|Aborted|AddressSanitizer' "$MUSTER_HOME/daemon.log" &&
  fail "the daemon crashed: $(cat "$MUSTER_HOME/daemon.log")"
finish
