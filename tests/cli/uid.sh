#!/usr/bin/env bash
# uid/gid per app (issue 10 §5): a daemon running as root starts the app
# as the user asked (by name or number, from the CLI or an ecosystem
# file), with that user's supplementary groups; the log files stay the
# daemon's. An unknown user is refused; a daemon that is not root refuses
# another user with a clear error.
. "$(dirname "$0")/lib.bash" "$1"
if [ "$(id -u)" != 0 ]; then echo "skip: needs root to start apps as nobody"; exit 77; fi
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 77; }
chmod 755 "$tmp"
cat >"$tmp/who.sh" <<'SH'
#!/bin/sh
echo "who uid=$(id -u) gid=$(id -g) groups=$(id -G)"
exec sleep 1000
SH
chmod 755 "$tmp/who.sh"
nuid=$(id -u nobody) ngid=$(id -g nobody) ngroups=$(id -G nobody)
ngroup=$(id -gn nobody)

"$M" start "$tmp/who.sh" --name byname --uid nobody >/dev/null
"$M" start "$tmp/who.sh" --name bynumber --uid "$nuid" --gid "$ngid" >/dev/null
cat >"$tmp/eco.json" <<JSON
{"apps": [{"name": "eco", "script": "$tmp/who.sh", "uid": "nobody", "gid": "$ngroup"}]}
JSON
"$M" start "$tmp/eco.json" >/dev/null
id=0
for app in byname bynumber eco; do
  log=$MUSTER_HOME/logs/$app-out.log
  wait_for "grep -q '^who' $log"
  grep -qx "who uid=$nuid gid=$ngid groups=$ngroups" "$log" ||
    fail "$app: $(cat "$log"), expected uid=$nuid gid=$ngid groups=$ngroups"
  pid=$(jfield $id 'p["pid"]')
  id=$((id + 1))
  grep -q "^Uid:[[:space:]]*$nuid[[:space:]]*$nuid[[:space:]]*$nuid[[:space:]]*$nuid" \
    "/proc/$pid/status" || fail "$app: $(grep Uid "/proc/$pid/status")"
  [ "$(stat -c %u "$log")" = 0 ] || fail "$app: log owned by $(stat -c %U "$log")"
done
"$M" ls | grep -q "byname .*nobody" || fail "ls does not show the user: $("$M" ls)"
[ "$(jfield 1 'p["pm2_env"]["username"]')" = nobody ] || fail "jlist username"
# Stopping reaches it as before.
"$M" stop eco >/dev/null

out=$("$M" start "$tmp/who.sh" --name ghost --uid no_such_user_x 2>&1) && fail "unknown user accepted"
grep -q 'uid: no user named "no_such_user_x"' <<<"$out" || fail "unknown user: $out"
out=$("$M" start "$tmp/who.sh" --name ghost --gid no_such_group_x 2>&1) && fail "unknown group accepted"
grep -q 'gid: no group named "no_such_group_x"' <<<"$out" || fail "unknown group: $out"

# A daemon running as nobody may not start an app as root.
home2=$tmp/nobody-home
mkdir -m 700 "$home2" && chown nobody "$home2"
muster_for_anyone
# From $tmp (0755): the CLI sends its cwd as the app's, and a private
# checkout (a 0700 home) is no place nobody may enter.
as_nobody() {
  setpriv --reuid="$nuid" --regid="$ngid" --clear-groups \
    env -C "$tmp" LD_LIBRARY_PATH="$tmp" MUSTER_HOME="$home2/h" "$@"
}
# nobody's daemon goes too, whatever happens.
trap 'st=$?; as_nobody "$tmp/muster" kill >/dev/null 2>&1 || true; cleanup "$st"' EXIT
out=$(as_nobody "$tmp/muster" start "$tmp/who.sh" --name asroot --uid root 2>&1) &&
  fail "nobody's daemon started an app as root"
echo "$out"
grep -q "uid: EPERM (the daemon runs as nobody, not root" <<<"$out" || fail "refusal: $out"
as_nobody "$tmp/muster" start "$tmp/who.sh" --name self --uid nobody >/dev/null ||
  fail "nobody's daemon refused nobody"
as_nobody "$tmp/muster" kill >/dev/null
finish
