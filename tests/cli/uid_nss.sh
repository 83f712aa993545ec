#!/usr/bin/env bash
# Users and groups come from the system's user database as NSS answers
# it, not from /etc/passwd: the muster binary is static (glibc included)
# and asks `getent` on its PATH (manager/userdb.c). Here a `getent` first
# on the daemon's PATH knows a user "musterghost" that no file holds (as
# an LDAP or systemd user would be), with nobody's ids and one extra
# group: the app runs as that, with those groups, and `ls` shows the name.
# The idle daemon never asks the database; a daemon that cannot run
# getent refuses a uid with a clear error and stays up.
. "$(dirname "$0")/lib.bash" "$1"
if [ "$(id -u)" != 0 ]; then echo "skip: needs root to start apps as another user"; exit 77; fi
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
real=$(command -v getent) || { echo "skip: no getent"; exit 77; }
grep -q '^musterghost:' /etc/passwd && { echo "skip: musterghost exists"; exit 77; }
nuid=$(id -u nobody) ngid=$(id -g nobody)
extra=$(getent group daemon | cut -d: -f3) || { echo "skip: no group daemon"; exit 77; }
chmod 755 "$tmp"
cat >"$tmp/who.sh" <<'SH'
#!/bin/sh
echo "who uid=$(id -u) gid=$(id -g) groups=$(id -G)"
exec sleep 1000
SH
chmod 755 "$tmp/who.sh"

mkdir "$tmp/nss"
cat >"$tmp/nss/getent" <<SH
#!/bin/sh
echo "\$*" >>"$tmp/asked"
case "\$1 \$2" in
"passwd musterghost") echo "musterghost:x:$nuid:$ngid:ghost:/nonexistent:/bin/false" ;;
"initgroups musterghost") echo "musterghost          $extra" ;;
*) exec "$real" "\$@" ;;
esac
SH
chmod 755 "$tmp/nss/getent"
: >"$tmp/asked"
export PATH=$tmp/nss:$PATH

"$M" ping >/dev/null
[ ! -s "$tmp/asked" ] || fail "the idle daemon asked the database: $(cat "$tmp/asked")"

"$M" start "$tmp/who.sh" --name ghost --uid musterghost >/dev/null
log=$MUSTER_HOME/logs/ghost-out.log
wait_for "grep -q '^who' $log"
grep -qx "who uid=$nuid gid=$ngid groups=$ngid $extra" "$log" ||
  fail "ghost: $(cat "$log"), expected uid=$nuid gid=$ngid groups=$ngid $extra"
grep -q "^passwd musterghost" "$tmp/asked" || fail "not asked: $(cat "$tmp/asked")"
grep -q "^initgroups musterghost" "$tmp/asked" || fail "groups not asked: $(cat "$tmp/asked")"
"$M" ls | grep -q "ghost .*musterghost" || fail "ls: $("$M" ls)"
# A restart looks the user up again (a second later: answers are kept 1 s).
sleep 1.1
: >"$tmp/asked"
"$M" restart ghost >/dev/null
wait_for "[ \$(grep -c '^who' $log) = 2 ]"
grep -q "^passwd musterghost" "$tmp/asked" || fail "restart: not asked again"
"$M" ls | grep -q "ghost .*online" || fail "ls after restart: $("$M" ls)"
"$M" kill >/dev/null

# Without getent to ask: a clear refusal, and the daemon goes on.
mkdir "$tmp/bin"
ln -s "$(command -v sleep)" "$tmp/bin/sleep"
# (The daemon this starts has that PATH; the test's own commands keep theirs.)
out=$(PATH=$tmp/bin "$M" start "$tmp/who.sh" --name nodb --uid nobody 2>&1) &&
  fail "started without a user database"
echo "$out"
grep -q "the user database: could not run getent: ENOENT" <<<"$out" || fail "refusal: $out"
PATH=$tmp/bin "$M" start "$tmp/who.sh" --name plain >/dev/null || fail "an app without uid"
"$M" ping >/dev/null
finish
