#!/usr/bin/env bash
# `make install` (issue 10 §1): the one `muster` binary, the shared and
# static libraries, the public headers (muster/client.h among them) and
# muster.pc land under the prefix; the installed binary runs against the
# installed library, and a C program builds with pkg-config against it.
. "$(dirname "$0")/lib.bash" "$1"
command -v cmake >/dev/null || { echo "skip: no cmake"; exit 77; }
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  fail "install: $(tail -5 "$tmp/install.log")"
[ -x "$prefix/bin/muster" ] || fail "no bin/muster"
[ -f "$prefix/include/muster/client.h" ] || fail "no include/muster/client.h"
lib=$(dirname "$(find "$prefix" -name 'libmuster.so*' | head -1)")
[ -n "$lib" ] && [ "$lib" != . ] || fail "no libmuster.so under $prefix"
pc=$(find "$prefix" -name muster.pc | head -1)
[ -n "$pc" ] || fail "no muster.pc"
out=$(LD_LIBRARY_PATH=$lib "$prefix/bin/muster" --version) || fail "installed muster: $out"
[ "$out" = "$("$M" --version)" ] || fail "installed muster says $out"
# The installed binary drives a daemon like the built one.
LD_LIBRARY_PATH=$lib "$prefix/bin/muster" ping | grep -q pong || fail "installed muster ping"
# A sanitized libmuster.so needs its sanitizer's runtime: a plain cc link
# of a client against it cannot work, so that step is for plain builds.
if grep -qaE '__(asan|tsan|msan)_init' "$M" "$(dirname "$M")/libmuster.so" 2>/dev/null; then
  echo "the C client step is skipped: this build is sanitized" >&2
elif command -v pkg-config >/dev/null && command -v cc >/dev/null; then
  cat >"$tmp/c.c" <<'C'
#include <muster/client.h>
#include <stdio.h>
int main(void) {
  muster_client_t *c;
  int r = muster_client_connect(NULL, &c);
  if (r < 0)
    return 1;
  json_t *res = NULL;
  char *msg = NULL;
  r = muster_client_ping(c, 5000, &res, &msg);
  printf("%d\n", r);
  muster_client_close(c);
  return r < 0;
}
C
  # The .pc names the configured prefix; --define-prefix takes it from
  # where the file is, as for any relocated install.
  flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-prefix --cflags --libs muster) ||
    fail "pkg-config muster"
  cc -o "$tmp/c" "$tmp/c.c" $flags >"$tmp/cc.log" 2>&1 || fail "cc: $(head -5 "$tmp/cc.log")"
  [ "$(LD_LIBRARY_PATH=$lib "$tmp/c")" = 0 ] || fail "a C client built against the install cannot ping"
else
  echo "(no pkg-config or cc: the C client is not built)"
fi
finish
