#!/usr/bin/env bash
# A full filesystem (a small tmpfs as MUSTER_HOME) makes `save` fail with
# ENOSPC, report it, and leave the previous dump intact.
. "$(dirname "$0")/lib.bash" "$1"
mkdir -p "$MUSTER_HOME"
if ! mount -t tmpfs -o size=512k,mode=0700 tmpfs "$MUSTER_HOME" 2>/dev/null; then
  echo "skip: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)"
  exit 77
fi
trap 'st=$?; set +e; pids=$(muster_pids); [ -z "$pids" ] || kill -9 $pids 2>/dev/null; sleep 0.2; umount -l "$MUSTER_HOME"; rm -rf "$tmp"; exit $st' EXIT
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
"$M" start "$tmp/ticker" --name ticker --output /dev/null >/dev/null
"$M" save >/dev/null
before=$(cat "$MUSTER_HOME/dump.json")
"$M" start "$tmp/ticker" --name second --output /dev/null >/dev/null
# Fill the filesystem.
dd if=/dev/zero of="$MUSTER_HOME/filler" bs=4k 2>/dev/null || true
out=$("$M" save 2>&1) && fail "save on a full disk succeeded"
echo "$out"
grep -q "ENOSPC" <<<"$out" || fail "no ENOSPC in: $out"
grep -q "previous dump is unchanged" <<<"$out" || fail "no reassurance in: $out"
[ "$(cat "$MUSTER_HOME/dump.json")" = "$before" ] || fail "the dump changed"
ls "$MUSTER_HOME" | grep -q tmp && fail "a temporary file was left"
rm "$MUSTER_HOME/filler"
"$M" save | grep -q 'saved 2 apps' || fail "save after freeing space"
finish
