#!/usr/bin/env bash
# How `start` runs a file (issue 10 §2): .js .mjs .cjs -> node, .py ->
# python3, .rb -> ruby, .sh -> bash, .php -> php, found on the app's PATH
# (stand-ins here, so no language needs to be installed); a script with a
# shebang and the execute bit runs directly whatever its extension;
# --interpreter overrides; a missing interpreter is ENOENT with its name;
# --cwd is where the app runs.
. "$(dirname "$0")/lib.bash" "$1"
mkdir -p "$tmp/bin" "$tmp/app"
for i in node python3 ruby bash php perl; do
  cat >"$tmp/bin/$i" <<SH
#!/bin/sh
echo "\$(basename "\$0") \$*" >"\$1.ran"
exec sleep 1000
SH
  chmod +x "$tmp/bin/$i"
done
fakepath=$tmp/bin:/usr/bin:/bin
ran() { cat "$tmp/app/$1.ran" 2>/dev/null; }
n=0
for case in js:node mjs:node cjs:node py:python3 rb:ruby sh:bash php:php; do
  ext=${case%%:*} want=${case#*:}
  echo "not run directly" >"$tmp/app/a.$ext"
  PATH=$fakepath "$M" start "$tmp/app/a.$ext" --name "$ext" >/dev/null
  wait_for '[ -n "$(ran a.$ext)" ]'
  [ "$(ran a.$ext)" = "$want $tmp/app/a.$ext" ] || fail ".$ext ran as: $(ran a.$ext)"
  n=$((n + 1))
done
echo "$n extensions, each through its interpreter"

# A shebang and the execute bit: run directly, whatever the extension.
printf '#!/bin/sh\necho "direct $0" >"$0.ran"\nexec sleep 1000\n' >"$tmp/app/b.py"
chmod +x "$tmp/app/b.py"
PATH=$fakepath "$M" start "$tmp/app/b.py" >/dev/null
wait_for '[ -n "$(ran b.py)" ]'
[ "$(ran b.py)" = "direct $tmp/app/b.py" ] || fail "shebang script ran as: $(ran b.py)"

# --interpreter overrides the extension.
echo x >"$tmp/app/c.js"
PATH=$fakepath "$M" start "$tmp/app/c.js" --interpreter perl >/dev/null
wait_for '[ -n "$(ran c.js)" ]'
[ "$(ran c.js)" = "perl $tmp/app/c.js" ] || fail "--interpreter perl ran as: $(ran c.js)"

# --cwd: the app's working directory.
mkdir -p "$tmp/there"
"$M" start /bin/sh --name where --cwd "$tmp/there" -- -c 'pwd >here; exec sleep 1000' >/dev/null
wait_for '[ -s "$tmp/there/here" ]'
[ "$(cat "$tmp/there/here")" = "$tmp/there" ] || fail "--cwd: ran in $(cat "$tmp/there/here")"

# No interpreter on the app's PATH: ENOENT naming it, nothing started.
echo x >"$tmp/app/d.rb"
out=$(PATH=/usr/bin:/bin "$M" start "$tmp/app/d.rb" 2>&1) &&
  { command -v ruby >/dev/null || fail "started without ruby: $out"; }
if ! command -v ruby >/dev/null; then
  grep -q "ruby.*ENOENT\|ENOENT.*ruby" <<<"$out" || fail "no ENOENT naming ruby: $out"
  [ "$("$M" jlist | python3 -c 'import json,sys; print(sum(p["name"] == "d" for p in json.load(sys.stdin)))')" = 0 ] ||
    fail "d started without its interpreter"
fi
finish
