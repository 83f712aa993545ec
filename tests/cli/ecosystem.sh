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
grep -qF "$tmp/bad.json:3:17: apps[0].instances: expected an integer or \"max\", got \"many\"" <<<"$out" ||
  fail "no file:line:column, attribute and what was expected in: $out"
[ "$("$M" jlist)" = "[]" ] || fail "something started from a bad file"

# The same for YAML; the good app before the bad one does not start.
printf 'apps:\n  - name: good\n    script: %s\n  - name: y\n    script: %s\n    kill_signal: SIGNOPE\n' \
  "$tmp/ticker" "$tmp/ticker" >"$tmp/bad.yaml"
out=$("$M" start "$tmp/bad.yaml" 2>&1) && fail "a bad YAML file started"
grep -qF "$tmp/bad.yaml:6:18: apps[1].kill_signal: expected a signal name like \"SIGINT\", got \"SIGNOPE\"" <<<"$out" ||
  fail "no file:line:column, attribute and what was expected in: $out"
[ "$("$M" jlist)" = "[]" ] || fail "something started from a bad YAML file"

# Attributes muster does not support are named, with their place, in
# JSON and YAML; the app starts.
printf '{"apps": [{"name": "w", "script": "%s",\n  "max_memory_restart": "1G"}]}\n' "$tmp/ticker" >"$tmp/warn.json"
out=$("$M" start "$tmp/warn.json" 2>&1) || fail "warn.json: $out"
grep -qF "muster: warning: $tmp/warn.json:2:25: apps[0].max_memory_restart: not supported by muster yet; ignored" <<<"$out" ||
  fail "no warning with its place in: $out"
printf 'apps:\n  - name: v\n    script: %s\n    watch: true\n' "$tmp/ticker" >"$tmp/warn.yaml"
out=$("$M" start "$tmp/warn.yaml" 2>&1) || fail "warn.yaml: $out"
grep -qF "muster: warning: $tmp/warn.yaml:4:12: apps[0].watch: not supported by muster yet; ignored" <<<"$out" ||
  fail "no warning with its place in: $out"
"$M" delete all >/dev/null

# An ecosystem.config.js without node: a clear error, nothing started.
printf 'module.exports = {apps: [{name: "js", script: "%s"}]}\n' "$tmp/ticker" >"$tmp/eco.config.js"
out=$(PATH=/nonexistent "$M" start "$tmp/eco.config.js" 2>&1) && fail "a .config.js started without node"
grep -q "needs node" <<<"$out" || fail "no clear error without node: $out"
[ "$("$M" jlist)" = "[]" ] || fail "something started from a .config.js without node"
finish
