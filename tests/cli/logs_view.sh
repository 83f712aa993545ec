#!/usr/bin/env bash
# How `muster logs` shows lines: PM2's `--timestamp [format]` (moment.js
# tokens or strftime's; the word after it is the format only when it looks
# like one, else it is the app) and `--highlight TEXT` (each match coloured
# on a terminal, the lines untouched elsewhere); bad input for both.
. "$(dirname "$0")/lib.bash" "$1"
logs=$tmp/logs
mkdir -p "$logs"
cat >"$tmp/talk.sh" <<'SH'
#!/bin/sh
echo "one error, two error"
echo "all fine"
exec sleep 3600
SH
chmod +x "$tmp/talk.sh"
# JSON layout: the lines read back carry their time, so --timestamp shows
# one on the history too.
cat >"$tmp/eco.json" <<JSON
{"apps": [{"name": "talk", "script": "$tmp/talk.sh", "log_type": "json",
           "out_file": "$logs/talk.log", "error_file": "$logs/talk-err.log"}]}
JSON
"$M" start "$tmp/eco.json" >/dev/null
wait_for 'grep -q "all fine" "$logs/talk.log"'

# The default format, PM2's YYYY-MM-DD-HH:mm:ss.
out=$("$M" logs talk --out --lines 2 --timestamp)
echo "$out" | grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}: all fine' ||
  fail "--timestamp: $out"
# A moment.js format after the option, the app after it.
out=$("$M" logs --timestamp "HH:mm:ss.SSS" talk --out --lines 2)
echo "$out" | grep -Eqx '[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}: all fine' ||
  fail "--timestamp HH:mm:ss.SSS: $out"
# strftime's, with = or after the option.
out=$("$M" logs talk --out --lines 1 --timestamp=%Y/%j)
echo "$out" | grep -Eqx '[0-9]{4}/[0-9]{3}: all fine' || fail "--timestamp=%Y/%j: $out"
out=$("$M" logs talk --out --lines 1 --timestamp '[%H]')
echo "$out" | grep -Eqx '\[[0-9]{2}\]: all fine' || fail "--timestamp [%H]: $out"
# A word that is not a format is the app: `--timestamp talk`.
out=$("$M" logs --out --lines 1 --timestamp talk)
echo "$out" | grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}: all fine' ||
  fail "--timestamp talk: $out"
# The same time in every format: the line's, not the reader's clock.
a=$("$M" logs talk --out --lines 1 --timestamp=%s)
sleep 1.1
b=$("$M" logs talk --out --lines 1 --timestamp=%s)
[ "$a" = "$b" ] || fail "the time is not the line's: $a then $b"

# --highlight: untouched when stdout is not a terminal...
out=$("$M" logs talk --out --lines 2 --highlight error)
[ "$out" = "$(printf 'one error, two error\nall fine')" ] ||
  fail "--highlight off a terminal: $out"
# ...coloured (PM2's bgBlackBright) on one, every match.
tty_run "$M" logs talk --out --lines 2 --highlight error >"$tmp/tty.out"
grep -qa $'one \e\\[100merror\e\\[49m, two \e\\[100merror\e\\[49m' "$tmp/tty.out" ||
  fail "--highlight on a terminal: $(od -c "$tmp/tty.out" | head -5)"
grep -Eqa $'^all fine\r?$' "$tmp/tty.out" || fail "a line without a match changed"
NO_COLOR=1 tty_run "$M" logs talk --out --lines 2 --highlight error >"$tmp/tty.out"
grep -qa $'\e' "$tmp/tty.out" && fail "NO_COLOR still colours"

# Bad input: exit 2 and why.
set +e
err=$("$M" logs talk --highlight 2>&1); st=$?
[ $st = 2 ] && echo "$err" | grep -q 'needs a text' || fail "--highlight alone: $st $err"
err=$("$M" logs talk --timestamp= 2>&1); st=$?
[ $st = 2 ] && echo "$err" | grep -q 'needs a format' || fail "--timestamp=: $st $err"
long=$(printf '%%Y%.0s' $(seq 150))
err=$("$M" logs talk "--timestamp=$long" 2>&1); st=$?
[ $st = 2 ] && echo "$err" | grep -q 'longer than 255 bytes' || fail "a long format: $st $err"
set -e
finish
