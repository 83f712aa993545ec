#!/usr/bin/env bash
# The user column of the first table after a cold start. The idle daemon
# asks the user database nothing, so its own name is asked when the first
# table is (off the loop: manager/userdb.c); that table waits for the
# answer, at most a quarter of a second (manager/daemon/commands.c), and
# shows the name. A database slower than that gets the uid in decimal,
# and the table is not held for it. Here `getent` first on the daemon's
# PATH answers for this test's own uid after 0.1 s, then after 3 s.
. "$(dirname "$0")/lib.bash" "$1"
real=$(command -v getent) || { echo "skip: no getent"; exit 77; }
me=$(id -un) uid=$(id -u)
chmod 755 "$tmp"
mkdir "$tmp/nss"
export PATH=$tmp/nss:$PATH
fake() { # fake SECONDS: passwd of our uid answered after that long
  cat >"$tmp/nss/getent" <<SH
#!/bin/sh
if [ "\$1 \$2" = "passwd $uid" ]; then
  : >"$tmp/asking"
  sleep $1
  : >"$tmp/answered"
fi
exec "$real" "\$@"
SH
  chmod 755 "$tmp/nss/getent"
  rm -f "$tmp/asking" "$tmp/answered"
}

# A database that answers within the wait: the first table has the name.
fake 0.1
out=$("$M" start "$(command -v sleep)" --name first -- 1000)
echo "$out"
grep -q "first .* $me\$" <<<"$out" || fail "the first table's user: $out"
[ -e "$tmp/answered" ] || fail "the name came from elsewhere than getent"
"$M" kill >/dev/null

# A slow one: the table does not wait for it, and shows the uid.
export MUSTER_HOME=$tmp/home2
fake 3
out=$("$M" start "$(command -v sleep)" --name second -- 1000)
echo "$out"
[ -e "$tmp/asking" ] || fail "the database was not asked"
[ ! -e "$tmp/answered" ] || fail "the table waited for the slow database"
grep -q "second .* $uid\$" <<<"$out" || fail "the table's user while asked: $out"
wait_for "[ -e '$tmp/answered' ]"
"$M" ls | grep -q "second .* $me\$" || fail "ls after the answer: $("$M" ls)"
finish
