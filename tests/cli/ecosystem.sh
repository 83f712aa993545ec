#!/usr/bin/env bash
# Ecosystem files through include/muster/appspec.h: JSON and YAML with PM2's
# names, env_<name> with --env <name>, --only; a bad file gives file, line
# and column, and nothing is started; unsupported attributes are named.
. "$(dirname "$0")/lib.bash" "$1"
cc -O1 -o "$tmp/ticker" "$apps/ticker.c" || fail "cannot build the C app"
cat >"$tmp/eco.json" <<JSON
{"apps": [
  {"name": "tick", "script": "$tmp/ticker", "instances": 2,
   "env": {"MODE": "dev"}, "env_production": {"MODE": "prod"}},
  {"name": "py", "script": "$apps/worker.py", "watch": true}
]}
JSON
out=$("$M" start "$tmp/eco.json" --env production 2>&1)
echo "$out"
grep -q 'watch' <<<"$out" || fail "no warning for the unsupported watch"
[ "$("$M" jlist | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] ||
  fail "not 3 instances"
"$M" env tick | grep -qx 'MODE=prod' || fail "env_production not applied"
"$M" delete all >/dev/null

cat >"$tmp/eco.yaml" <<YAML
apps:
  - name: a
    script: $tmp/ticker
  - name: b
    script: $tmp/ticker
YAML
"$M" start "$tmp/eco.yaml" --only b >/dev/null
[ "$("$M" jlist | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)])')" = "['b']" ] ||
  fail "--only b"
"$M" delete all >/dev/null

printf '{"apps": [\n  {"name": "x", "script": "%s",\n   "instances": "many"}\n]}\n' "$tmp/ticker" >"$tmp/bad.json"
out=$("$M" start "$tmp/bad.json" 2>&1) && fail "a bad file started"
echo "$out"
grep -q "bad.json:3:" <<<"$out" || fail "no file:line in: $out"
grep -q "instances" <<<"$out" || fail "no attribute in: $out"
[ "$("$M" jlist)" = "[]" ] || fail "something started from a bad file"
finish
