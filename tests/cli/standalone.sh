#!/usr/bin/env bash
# The muster program stands alone: linked with libmuster and its
# dependencies built in (CMakeLists.txt, MUSTER_STATIC_PROGRAM), a copy of
# the binary by itself in an empty folder runs the CLI and the daemon,
# with no libmuster.so, libuv, jansson, libyaml or zlib to load (and no
# libc either where it is linked in: MUSTER_STATIC_LIBC).
. "$(dirname "$0")/lib.bash" "$1"
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
if [ "$(cache MUSTER_STATIC_PROGRAM)" != ON ]; then
  echo "skip: built with MUSTER_STATIC_PROGRAM=OFF"; exit 77
fi
for v in uv jansson yaml z; do
  case $(cache "MUSTER_STATIC_$v") in
  "" | *NOTFOUND) echo "skip: no static lib$v to link with"; exit 77 ;;
  esac
done
needed=$(readelf -d "$M" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "needs: $(echo $needed)"
for lib in $needed; do
  case $lib in
  libmuster* | libuv* | libjansson* | libyaml* | libz.*)
    fail "$M still loads $lib" ;;
  esac
done
# With the C library linked in too (MUSTER_STATIC_LIBC), nothing at all.
if [ "$(cache MUSTER_HAVE_STATIC_LIBC)" = 1 ] && [ -n "$needed" ]; then
  fail "$M is linked statically but loads $(echo $needed)"
fi
readelf -d "$M" | grep -q 'R.*PATH' && fail "an rpath is left: $(readelf -d "$M" | grep PATH)"

mkdir "$tmp/bin"
cp "$M" "$tmp/bin/muster"
M=$tmp/bin/muster
export LD_LIBRARY_PATH=$tmp/nothing-here
"$M" start sleep --name alone -- 3600 | grep -q 'alone' || fail "start"
wait_for '[ "$(jfield 0 "p[\"pm2_env\"][\"status\"]")" = online ]'
pid=$(jfield 0 'p["pid"]')
cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
case $cmd in */sleep" 3600 " | "sleep 3600 ") ;; *) fail "app $pid runs $cmd" ;; esac
# The daemon ran from the copy.
d=$(daemon_pids)
[ "$(readlink "/proc/$d/exe")" = "$M" ] || fail "daemon runs $(readlink "/proc/$d/exe")"
# A restart is spawned by that daemon again.
kill -9 "$pid"
wait_for '[ "$(jfield 0 "p[\"pid\"]")" != "$pid" ] && [ "$(jfield 0 "p[\"pm2_env\"][\"status\"]")" = online ]'
"$M" ls | grep -q 'alone.*online' || fail "ls: $("$M" ls)"
finish
