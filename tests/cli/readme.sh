#!/usr/bin/env bash
# Every ```c block of README.md is a complete program: compile and link each
# against the library just built, so the README cannot drift from the API.
# Usage: readme.sh BUILD_DIR
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
  /^```c$/ { n++; file = sprintf("%s/block%02d.c", dir, n); inblock = 1; next }
  /^```/   { inblock = 0; next }
  inblock  { print > file }
' "$src/README.md"
shopt -s nullglob
blocks=("$tmp"/block*.c)
count=${#blocks[@]}
if [ "$count" -eq 0 ]; then
  echo "no C blocks found in README.md" >&2
  exit 1
fi
# Build as the library was built: same compiler, same sanitizers.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cc=$(cache CMAKE_C_COMPILER)
san=$(cache MUSTER_SANITIZE)
flags=()
[ -n "$san" ] && flags+=("-fsanitize=$san")
for f in "${blocks[@]}"; do
  "${cc:-cc}" "${flags[@]}" -Wall -Wextra -Werror -Wno-unused-parameter \
    -I"$src/include" "$f" "$build/libmuster.a" \
    $(pkg-config --cflags --libs libuv jansson yaml-0.1 zlib) -lpthread -o "${f%.c}" ||
    { echo "README block $(basename "$f") does not build" >&2; exit 1; }
done
echo "$count README blocks build"
