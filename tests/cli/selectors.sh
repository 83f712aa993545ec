#!/usr/bin/env bash
# Every command that acts on apps takes an id, a name, a namespace or
# `all` (issue 10 §2): restart, reload, reset, signal, stop, delete, each
# with each form, acting on exactly the instances it names.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
"$M" start "$tmp/ticker" --name a --namespace one -i 2 --min-uptime 200 >/dev/null
"$M" start "$tmp/ticker" --name b --namespace two --min-uptime 200 >/dev/null
# The ids a command says it acted on, sorted, on one line.
acted() {
  "$M" "$@" | sed -n 's/^\[muster\] .* (id \([0-9]*\))$/\1/p' | sort -n | tr '\n' ' '
}
for cmd in restart reload reset "signal SIGCONT" stop; do
  for case in "1:1 " "a:0 1 " "two:2 " "all:0 1 2 "; do
    sel=${case%%:*} want=${case#*:}
    got=$(acted $cmd "$sel")
    [ "$got" = "$want" ] || fail "$cmd $sel acted on \"$got\", wanted \"$want\""
  done
  echo "$cmd: by id, name, namespace and all"
done
[ "$(acted delete 1)" = "1 " ] || fail "delete 1"
[ "$(acted delete two)" = "2 " ] || fail "delete two"
[ "$(acted delete a)" = "0 " ] || fail "delete a"
"$M" start "$tmp/ticker" --name c >/dev/null
[ "$(acted delete all)" = "3 " ] || fail "delete all"
[ "$("$M" jlist)" = "[]" ] || fail "apps left after delete all"
finish
