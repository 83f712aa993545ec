#!/usr/bin/env bash
# PM2's log_file (out and err in one file) and merge_logs (the instances
# of an app in one set of files): two Node instances write 20,000 lines
# each through 64 KiB files; every line is in its files exactly once and
# whole across the rotations. Without merge_logs each instance has its
# own files, "-<pm_id>" before ".log", the combined one included.
. "$(dirname "$0")/lib.bash" "$1"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
logs=$tmp/logs
mkdir -p "$logs"
K=20000
cat >"$tmp/eco.json" <<JSON
{"apps": [{"name": "merged", "script": "$apps/lines.js", "args": ["$K"],
           "instances": 2, "merge_logs": true,
           "out_file": "$logs/m-out.log", "error_file": "$logs/m-err.log",
           "log_file": "$logs/m-all.log",
           "log_max_size": "64K", "log_retain": 1000}]}
JSON
"$M" start "$tmp/eco.json" >/dev/null
count() { cat "$@" 2>/dev/null | wc -l; }
wait_for '[ "$(count "$logs"/m-all.log*)" -ge $((2 * K)) ]' 60
sleep 0.3
ls "$logs" | grep -E -- '-[0-9]+\.log' && fail "merge_logs: files per instance"
check() { # files..., then the python test on (instance, number)
  local want=$1
  shift
  cat "$@" | python3 -c "
import re, sys
seen = {}
for l in sys.stdin:
    m = re.fullmatch(r'i([01]) n(\d+) x{80}\n', l)
    assert m, 'cut or foreign line: %r' % l
    key = (int(m.group(1)), int(m.group(2)))
    assert key not in seen, 'twice: %r' % (key,)
    seen[key] = 1
want = [(i, k) for i in (0, 1) for k in range(1, $K + 1) if $want]
missing = [w for w in want if w not in seen]
assert not missing and len(seen) == len(want), 'missing %s' % missing[:5]
" || fail "$* : lines lost, repeated or cut"
}
check 'k % 10 != 0' "$logs"/m-out.log*
check 'k % 10 == 0' "$logs"/m-err.log*
check 'True' "$logs"/m-all.log*
n=$(ls "$logs"/m-all.log* | wc -l)
echo "merged: $n combined files, $(ls "$logs"/m-out.log* | wc -l) out files"
[ "$n" -ge 10 ] || fail "only $n combined files: no rotation?"
"$M" describe merged | grep -Eq "pm_log_path +$logs/m-all.log" ||
  fail "describe: no pm_log_path"
# logs reads the shared files; a follower of one instance sees only its
# lines.
"$M" logs merged --lines 2 --out | grep -Eq '^[0-9]\|merged \| i[01] n' ||
  fail "logs merged: $("$M" logs merged --lines 2)"

# Without merge_logs: -<pm_id> on every path; --log and -i from the CLI.
"$M" start "$apps/lines.js" --name split -i 2 --log "$logs/s.log" \
  --output "$logs/s-out.log" -- 100 >/dev/null
wait_for '[ "$(count "$logs/s-2.log")" = 100 ] && [ "$(count "$logs/s-3.log")" = 100 ]'
[ "$(count "$logs/s-out-2.log")" = 90 ] || fail "s-out-2.log: $(ls "$logs")"
[ -f "$MUSTER_HOME/logs/split-err-3.log" ] || fail "default err path: $(ls "$MUSTER_HOME/logs")"
grep -q '^i0 ' "$logs/s-2.log" && grep -q '^i1 ' "$logs/s-3.log" ||
  fail "instances mixed up"
# log_file: true is logs/<name>.log
cat >"$tmp/eco2.json" <<JSON
{"apps": [{"name": "combo", "script": "$apps/lines.js", "args": ["10"],
           "log_file": true}]}
JSON
"$M" start "$tmp/eco2.json" >/dev/null
wait_for '[ "$(count "$MUSTER_HOME/logs/combo.log")" = 10 ]'
[ "$(count "$MUSTER_HOME/logs/combo-out.log")" = 9 ] || fail "combo-out.log"
finish
