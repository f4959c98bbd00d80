#!/usr/bin/env bash
# The Procfile's `proxy`: HAProxy on WEB_PORT in front of the WEB_PROCESSES Daphne processes that
# scripts/web.sh starts on WEB_PORT+1..N. With one web process there is no proxy (Daphne listens on
# WEB_PORT itself): this waits quietly so honcho keeps the other processes running.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${WEB_PROCESSES:-1}
if [[ $n -le 1 ]]; then
  exec sleep infinity
fi
mkdir -p var
cfg=var/haproxy.cfg
port=${WEB_PORT:-8000}
backends=$(seq -s, $((port + 1)) $((port + n)))
# HAProxy takes a relative path for an address, and a Unix socket path has at most ~100 bytes.
sock="$PWD/var/haproxy.sock"
[[ ${#sock} -le 97 ]] || sock="/tmp/undertone-haproxy-$port.sock"
bash scripts/haproxy-config.sh "$port" "$backends" "$sock" >"$cfg"
exec haproxy -W -db -f "$cfg"
