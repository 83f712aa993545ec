#!/usr/bin/env bash
# Installs the Debian packages muster needs to build and test, when missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
# Usage: scripts/deps.sh [extra-package...]
set -euo pipefail
need=(build-essential cmake pkg-config libuv1-dev libjansson-dev
      libhttp-parser-dev libyaml-dev zlib1g-dev clang libclang-rt-dev lld "$@")
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
# The interop tests run real node; any nodejs will do (the image ships one).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "muster needs: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
