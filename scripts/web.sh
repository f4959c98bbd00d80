#!/usr/bin/env bash
# The Procfile's `web`: WEB_PROCESSES Daphne processes. With one, it listens on WEB_PORT itself; with more,
# on WEB_PORT+1.. WEB_PORT+N (loopback) behind HAProxy on WEB_PORT (scripts/proxy.sh, the `proxy` line).
# Any Daphne exiting stops the others and this script, so honcho stops the whole stack, as with one.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${WEB_PORT:-8000}
n=${WEB_PROCESSES:-1}
daphne() {
  exec .venv/bin/daphne -b 127.0.0.1 -p "$1" --proxy-headers --websocket_connect_timeout 10 \
    undertone_web.asgi:application
}
if [[ $n -le 1 ]]; then
  daphne "$port"
fi
pids=()
for i in $(seq 1 "$n"); do
  daphne $((port + i)) &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
wait -n
