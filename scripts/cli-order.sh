#!/usr/bin/env bash
# Writes manager/cli.order: the functions a CLI call runs, in the order
# they first run, for the linker (lld's --symbol-ordering-file) to place
# side by side at the start of the muster program's text.
#
# Why: a CLI call is a cold start. Every 64 KiB window of the program's
# text that it touches costs a page fault (fault-around maps the rest of
# the window), 6-25 us each on this kind of machine; spread over 1.6 MB of
# text (libc, libuv, jansson, libmuster, the daemon), `ls` touched 18 such
# windows; placed together, its code takes a few. docs/manager.md, "Cold
# CLI calls", has the figures.
#
# Usage: scripts/cli-order.sh [BUILD_DIR]   (needs valgrind; default build)
# Run it after a change to the CLI's paths; a stale list costs only speed
# (names that no longer exist are skipped, new functions land elsewhere).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "cli-order: valgrind is needed" >&2; exit 1; }
tmp=$(mktemp -d)
export MUSTER_HOME=$tmp/home
trap '"$build/muster" kill >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
m=$build/muster
"$m" start sleep --name a -i 2 -- 3600 >/dev/null
"$m" start sleep --name b -- 3600 >/dev/null
sleep 0.3 # let the daemon sample them: ls then prints cpu and memory
run() { valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$m" "$@" >/dev/null 2>&1 || echo "cli-order: muster $* failed" >&2; }
# The calls users repeat most come first.
run ls
run jlist
run ping
run describe a
run --version
run restart b
run stop b
python3 - "$tmp" "$root/manager/cli.order" <<'PY'
import glob, os, re, sys
seen, names = set(), []
files = sorted(glob.glob(os.path.join(sys.argv[1], "cg.*")), key=os.path.getmtime)
for f in files:
    for line in open(f, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (\S+)$", line.strip())
        # Skip addresses without a symbol ("0x401000").
        if m and not m.group(1).startswith("0x") and m.group(1) not in seen:
            seen.add(m.group(1))
            names.append(m.group(1))
with open(sys.argv[2], "w") as out:
    out.write("\n".join(names) + "\n")
print(f"cli-order: {len(names)} functions from {len(files)} calls -> {sys.argv[2]}")
PY
