#!/usr/bin/env bash
# The restart policy as the daemon applies it to a real app (issue 10 §2),
# one flag at a time: --no-autorestart, --restart-delay,
# --exp-backoff-restart-delay (lower bounds on the gaps between starts,
# never speed), --kill-signal, --kill-timeout, and the crash-loop guard at
# any age of the app: one that ran well past the guard's window, then
# crash-loops, ends errored with the reason in ls and describe.
. "$(dirname "$0")/lib.bash" "$1"
cat >"$tmp/app.sh" <<'SH'
#!/usr/bin/env bash
# $1: a file that gets a line (ms) at each start; $2: how to behave.
date +%s%3N >>"$1"
case $2 in
crash) exit 3 ;;
int) trap 'echo "got INT" >>"$1.sig"; exit 0' INT
     trap 'echo "got TERM" >>"$1.sig"; exit 0' TERM
     while :; do sleep 0.05; done ;;
stubborn) trap '' TERM; while :; do sleep 0.05; done ;;
age) while [ ! -e "$1.crash" ]; do sleep 0.05; done; exit 4 ;;
esac
SH
chmod +x "$tmp/app.sh"
status() { jfield "$1" 'p["pm2_env"]["status"]'; }
starts() { [ -e "$1" ] && wc -l <"$1" || echo 0; }
# The gaps in ms between the starts logged in $1, one a line.
gaps() { awk 'NR > 1 { print $1 - last } { last = $1 }' "$1"; }

# --no-autorestart: one start, then stopped for good.
"$M" start "$tmp/app.sh" --name once --no-autorestart -- "$tmp/once" crash >/dev/null
wait_for '[ "$(status 0)" = stopped ]'
sleep 1
[ "$(starts "$tmp/once")" = 1 ] || fail "--no-autorestart: $(starts "$tmp/once") starts"
[ "$(jfield 0 'p["pm2_env"]["restart_time"]')" = 0 ] || fail "--no-autorestart restarted"
"$M" delete once >/dev/null

# --restart-delay 800: no two starts closer than that.
"$M" start "$tmp/app.sh" --name delay --restart-delay 800 -- "$tmp/delay" crash >/dev/null
wait_for '[ "$(starts "$tmp/delay")" -ge 3 ]' 20
"$M" delete delay >/dev/null
for g in $(gaps "$tmp/delay"); do
  [ "$g" -ge 780 ] || fail "--restart-delay 800: a restart after $g ms ($(gaps "$tmp/delay" | tr '\n' ' '))"
done
echo "restart-delay 800: gaps $(gaps "$tmp/delay" | tr '\n' ' ')ms"

# --exp-backoff-restart-delay 200: each gap at least 1.5 times the last
# delay (200, 300, 450 ms).
"$M" start "$tmp/app.sh" --name backoff --exp-backoff-restart-delay 200 -- "$tmp/backoff" crash >/dev/null
wait_for '[ "$(starts "$tmp/backoff")" -ge 4 ]' 20
"$M" delete backoff >/dev/null
want=(190 285 427)
i=0
for g in $(gaps "$tmp/backoff" | head -3); do
  [ "$g" -ge "${want[$i]}" ] ||
    fail "--exp-backoff-restart-delay 200: gap $((i + 1)) is $g ms, under ${want[$i]} ($(gaps "$tmp/backoff" | tr '\n' ' '))"
  i=$((i + 1))
done
echo "exp-backoff-restart-delay 200: gaps $(gaps "$tmp/backoff" | tr '\n' ' ')ms"

# --kill-signal SIGINT: `stop` sends SIGINT, not SIGTERM.
"$M" start "$tmp/app.sh" --name ks --kill-signal SIGINT -- "$tmp/ks" int >/dev/null
wait_for '[ "$(status 3)" = online ] && [ "$(starts "$tmp/ks")" = 1 ]'
"$M" stop ks >/dev/null
[ "$(cat "$tmp/ks.sig")" = "got INT" ] || fail "--kill-signal SIGINT: the app got $(cat "$tmp/ks.sig")"
"$M" delete ks >/dev/null

# --kill-timeout 1500: an app ignoring SIGTERM is killed after 1.5 s, and
# `stop` answers once it is gone.
"$M" start "$tmp/app.sh" --name stubborn --kill-timeout 1500 -- "$tmp/stubborn" stubborn >/dev/null
wait_for '[ "$(status 4)" = online ]'
pid=$(jfield 4 'p["pid"]')
t0=$(date +%s%3N)
"$M" stop stubborn >/dev/null
ms=$(($(date +%s%3N) - t0))
live "$pid" && fail "--kill-timeout: pid $pid survived stop"
[ "$ms" -ge 1450 ] || fail "--kill-timeout 1500: stopped after $ms ms"
echo "kill-timeout 1500: stop answered after $ms ms"
"$M" delete stubborn >/dev/null

# The crash-loop guard at any age: max 2 restarts within the guard's
# window (min_uptime 1 s x 3: wide enough for three crashes of bash on a
# loaded machine). The app runs 4 s, past a whole window, then crashes at
# every start.
"$M" start "$tmp/app.sh" --name aging --max-restarts 2 --min-uptime 1000 -- "$tmp/aging" age >/dev/null
wait_for '[ "$(status 5)" = online ]'
sleep 4
[ "$(status 5)" = online ] || fail "aging: $(status 5) before its crash loop"
touch "$tmp/aging.crash"
wait_for '[ "$(status 5)" = errored ]' 20
n=$(starts "$tmp/aging")
[ "$n" -le 4 ] || fail "aging: $n starts, the guard allows 2 restarts after the crash"
sleep 1
[ "$(starts "$tmp/aging")" = "$n" ] || fail "aging: restarted after errored"
"$M" ls | grep -q '└.*crash loop' || fail "no crash-loop reason in ls: $("$M" ls)"
"$M" describe aging | grep -q 'crash loop' || fail "no crash-loop reason in describe"
echo "aging: errored after $n starts; ls: $("$M" ls | grep '└')"
finish
