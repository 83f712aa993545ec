#!/usr/bin/env bash
# A fresh daemon's memory: VmRSS (RssAnon in brackets) idle, with 100
# `sleep 3600` apps 1.5 s after one `start` of an ecosystem file, and
# after an `ls` and a `jlist`. Its own home in a temporary folder; the
# daemon and its apps are killed at the end.
#
#   bench/manager/rss100.sh [MUSTER_BIN]        (default: build/muster)
set -euo pipefail
bin=$(realpath "${1:-build/muster}")
tmp=$(mktemp -d /tmp/bench-rss100.XXXXXX)
export MUSTER_HOME=$tmp/home
trap '"$bin" kill >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
python3 -c "import json; print(json.dumps({'apps': [{'name': 'a%d' % i,
  'script': 'sleep', 'args': ['3600']} for i in range(100)]}))" >"$tmp/eco.json"
rss() {
  awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {printf "%d kB (%d)", r, a}' \
    "/proc/$(head -1 "$MUSTER_HOME/daemon.lock")/status"
}
"$bin" ping >/dev/null
sleep 0.5
idle=$(rss)
"$bin" start "$tmp/eco.json" >/dev/null
sleep 1.5
apps=$(rss)
"$bin" ls >/dev/null
"$bin" jlist >/dev/null
sleep 0.5
echo "$bin: idle $idle, 100 apps $apps, after ls + jlist $(rss)"
