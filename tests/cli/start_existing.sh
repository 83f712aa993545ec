#!/usr/bin/env bash
# `start <name|id|namespace>` of apps that exist restarts them, as PM2's
# does (`stop api`, then `start api`), when the word names no file here
# and comes alone. A script with the same word, options or app arguments
# still means "start a new app"; a word that is neither fails as before.
. "$(dirname "$0")/lib.bash" "$1"
trap 'cleanup $?' EXIT
cd "$tmp"

"$M" start sleep --name api --namespace web -- 3600 >/dev/null
"$M" start sleep --name job -- 3600 >/dev/null
pid0=$(jfield 0 "p['pid']")
"$M" stop api >/dev/null
[ "$(jfield 0 "p['pm2_env']['status']")" = stopped ] || fail "api not stopped"

out=$("$M" start api)
echo "$out" | grep -q '^\[muster\] restarted api (id 0)' || fail "start api: $out"
echo "$out" | grep -q '^id ' || fail "start api printed no table: $out"
[ "$(jfield 0 "p['pm2_env']['status']")" = online ] || fail "api not online"
pid1=$(jfield 0 "p['pid']")
[ "$pid1" != "$pid0" ] && [ "$pid1" != 0 ] || fail "api kept pid $pid0"
[ "$("$M" jlist | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] ||
  fail "start api added an app"

# By id and by namespace.
"$M" start 1 | grep -q '^\[muster\] restarted job (id 1)' || fail "start 1"
"$M" start web | grep -q '^\[muster\] restarted api (id 0)' || fail "start web"

# With app arguments it is a new app, and the name taken is an error.
set +e
out=$("$M" start sleep --name api -- 3600 2>&1)
st=$?
set -e
[ $st = 1 ] && echo "$out" | grep -q 'exists already' || fail "duplicate: $st $out"

# A file of that name here wins: it is a script to start.
printf '#!/bin/sh\nexec sleep 3600\n' >"$tmp/job"
chmod +x "$tmp/job"
set +e
out=$("$M" start job 2>&1)
st=$?
set -e
[ $st = 1 ] && echo "$out" | grep -q 'exists already' || fail "file job: $st $out"

# Neither an app nor a file: the script is missing.
set +e
out=$("$M" start nope-not-here 2>&1)
st=$?
set -e
[ $st = 1 ] && echo "$out" | grep -q 'nope-not-here' || fail "missing: $st $out"
echo "$out" | grep -qi 'ENOENT\|no such file' || fail "missing says: $out"

finish
