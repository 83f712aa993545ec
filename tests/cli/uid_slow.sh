#!/usr/bin/env bash
# A slow user database does not stall the daemon: `start --uid NAME` asks
# `getent` off the daemon's loop (manager/userdb.c), so another client's
# `ping` and `ls` are answered while that getent still runs. Here the
# `getent` first on the daemon's PATH takes 3 s to answer for a user
# "musterslow" (as an LDAP server that is slow would), with this test's own
# ids, so it runs without root. The check is causal, not a timing: ping
# and ls return before the fake getent has printed its answer.
. "$(dirname "$0")/lib.bash" "$1"
real=$(command -v getent) || { echo "skip: no getent"; exit 77; }
grep -q '^musterslow:' /etc/passwd && { echo "skip: musterslow exists"; exit 77; }
uid=$(id -u) gid=$(id -g)
chmod 755 "$tmp"
cat >"$tmp/app.sh" <<'SH'
#!/bin/sh
echo "app uid=$(id -u)"
exec sleep 1000
SH
chmod 755 "$tmp/app.sh"
mkdir "$tmp/nss"
cat >"$tmp/nss/getent" <<SH
#!/bin/sh
case "\$1 \$2" in
"passwd musterslow")
  : >"$tmp/asking"
  sleep 3
  echo "musterslow:x:$uid:$gid:slow:/nonexistent:/bin/false"
  : >"$tmp/answered" ;;
"initgroups musterslow") echo "musterslow          $gid" ;;
*) exec "$real" "\$@" ;;
esac
SH
chmod 755 "$tmp/nss/getent"
export PATH=$tmp/nss:$PATH

"$M" ping >/dev/null
"$M" start "$tmp/app.sh" --name slow --uid musterslow >"$tmp/start.out" 2>&1 &
starter=$!
wait_for "[ -e '$tmp/asking' ]"
t0=$(date +%s%N)
"$M" ping >/dev/null || fail "ping while the database is asked"
t1=$(date +%s%N)
"$M" ls >"$tmp/ls.out" || fail "ls while the database is asked"
[ ! -e "$tmp/answered" ] ||
  fail "ping and ls were answered only after getent (the loop waited for it)"
echo "ping answered in $(( (t1 - t0) / 1000000 )) ms while getent was asked"
grep -q slow "$tmp/ls.out" && fail "ls shows the app before its start: $(cat "$tmp/ls.out")"
wait "$starter" || fail "start: $(cat "$tmp/start.out")"
[ -e "$tmp/answered" ] || fail "start answered before the database"
log=$MUSTER_HOME/logs/slow-out.log
wait_for "grep -q '^app' $log"
grep -qx "app uid=$uid" "$log" || fail "app: $(cat "$log")"
"$M" ls | grep -q "slow .*musterslow" || fail "ls: $("$M" ls)"
finish
