#!/usr/bin/env bash
# `logs --follow` begun at any moment of a flood, across rotations: the
# history a follower reads back ends exactly where its live lines begin.
# An app writes numbered lines (up to 10,000 a second, into a file
# rotated every ~340 lines). Followers start one after the other at random
# moments while it writes (4 at a time), with histories of 0 to 3,000
# lines (spanning several rotated files), and each ends (through head)
# once it printed 1,000 lines past its history, through several
# rotations. Each must have printed one contiguous run of numbers: no line
# missing, none twice, in order. (A reader that falls behind loses lines
# by design, and is told how many: those may be missing, no more. The
# count can come after the last line head takes, so fewer may be missing.
# A follower that lost none must have all.)
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/numbers" "$apps/numbers.c" || fail "cannot build the app"
logs=$tmp/logs
mkdir -p "$logs"
cat >"$tmp/eco.json" <<JSON
{"apps": [{"name": "nums", "script": "$tmp/numbers",
           "args": ["40", "2000", "$tmp/stop"],
           "out_file": "$logs/nums.log", "error_file": "$logs/nums-err.log",
           "log_max_size": "8K", "log_retain": 1000}]}
JSON
"$M" start "$tmp/eco.json" >/dev/null
wait_for '[ -s "$logs/nums.log" ]'

K=${BOUNDARY_FOLLOWERS:-24}
histories=(0 1 7 300 3000)
pids=()
for ((i = 0; i < K; i++)); do
  # at most 4 at once: the oldest ends first
  if [ "$i" -ge 4 ]; then
    old=${pids[$((i - 4))]}
    wait_for '! kill -0 "$old" 2>/dev/null' 60
  fi
  sleep "0.$(printf '%03d' $((RANDOM % 200)))" # a random moment
  n=${histories[$((RANDOM % ${#histories[@]}))]}
  echo "$n" >"$tmp/lines.$i"
  ("$M" logs nums --follow --lines "$n" 2>"$tmp/e.$i" |
    head -n $((n + 1000)) >"$tmp/f.$i") &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait_for '! kill -0 "$pid" 2>/dev/null' 60
done
wait "${pids[@]}" || true
touch "$tmp/stop"
rotated=$(ls "$logs"/nums.log.* | wc -l)
echo "$rotated rotated files"
[ "$rotated" -ge 10 ] || fail "only $rotated rotated files: did the log rotate?"

bad=0
for ((i = 0; i < K; i++)); do
  python3 - "$tmp/f.$i" "$(cat "$tmp/lines.$i")" "$logs" "$tmp/e.$i" <<'PY' || bad=1
import glob, re, sys
name, history, logs, errs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
dropped = 0
for l in open(errs):
    m = re.fullmatch(r'muster: logs: (\d+) lines dropped \(this reader fell behind\)\n', l)
    assert m, '%s: %r' % (errs, l)
    dropped += int(m.group(1))
text = open(name).read()
assert text.endswith('\n'), '%s: the last line is cut' % name
lines = text.split('\n')[:-1]
nums = []
for k, l in enumerate(lines):
    m = re.fullmatch(r'(\d{8}) of the numbers', l)
    assert m, '%s line %d: %r' % (name, k + 1, l)
    nums.append(int(m.group(1)))
assert nums, '%s: no numbers' % name
first, missing = nums[0], 0
for k in range(1, len(nums)):
    got, want = nums[k], nums[k - 1] + 1
    if got < want:
        sys.exit('%s (history %d): line %d is %d after %d: a repeat' %
                 (name, history, k + 1, got, want - 1))
    missing += got - want
    if missing > dropped:
        in_files = any('%08d of' % want in open(f, errors='replace').read()
                       for f in glob.glob(logs + '/nums.log*'))
        sys.exit('%s (history %d): line %d is %d after %d: lines missing '
                 '(%08d is %sin the files; %d dropped said)' %
                 (name, history, k + 1, got, want - 1, want,
                  '' if in_files else 'not ', dropped))
print('follower with --lines %d: %d..%d, %d dropped' % (history, first,
                                                       nums[-1], dropped))
PY
done
[ "$bad" = 0 ] || fail "a follower missed, repeated or reordered lines"
finish
