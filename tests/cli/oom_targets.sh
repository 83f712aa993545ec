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
finish
