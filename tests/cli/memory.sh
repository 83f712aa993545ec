#!/usr/bin/env bash
# The daemon's memory across start/delete cycles: four times, 300 apps are
# started from one ecosystem file and deleted. Once they are gone, the
# daemon's RSS must come back near its idle figure, and must not grow from
# cycle to cycle. (It grew by ~4 MB a cycle and kept ~9 MB after the first
# one while glibc held the freed heap pages: daemon.c's malloc_trim.)
. "$(dirname "$0")/lib.bash" "$1"
if grep -qaE '__(asan|tsan|msan)_init' "$M"; then
  echo "skip: a sanitizer's allocator keeps freed memory on purpose" >&2
  exit 77
fi
N=300
python3 - "$tmp/eco.json" $N <<'PY'
import json, sys
json.dump({'apps': [{'name': f's{i}', 'script': '/bin/sleep',
                     'args': ['3600'], 'interpreter': 'none'}
                    for i in range(int(sys.argv[2]))]}, open(sys.argv[1], 'w'))
PY
"$M" ping >/dev/null
d=$(daemon_pids)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$d/status"; }
running() { "$M" jlist | python3 -c "import json,sys
print(sum(1 for p in json.load(sys.stdin) if p['pid']))"; }
idle=$(rss)
after=()
for cycle in 1 2 3 4; do
  "$M" start "$tmp/eco.json" >/dev/null
  wait_for '[ "$(running)" = $N ]' 60
  "$M" delete all >/dev/null
  [ "$("$M" jlist)" = "[]" ] || fail "apps left after delete all"
  sleep 0.5 # the trim runs once the daemon is quiet
  after+=("$(rss)")
done
echo "daemon RSS: idle $idle kB, after each cycle ${after[*]} kB"
# Room: the idle daemon is ~3 MB; 300 apps hold ~9 MB while they run.
[ "${after[0]}" -le $((idle + 3072)) ] ||
  fail "the first cycle left $((after[0] - idle)) kB behind (idle $idle kB)"
[ "${after[3]}" -le $((after[0] + 2048)) ] ||
  fail "RSS grew over the cycles: ${after[*]} kB"
finish
