#!/usr/bin/env bash
# Prints the HAProxy configuration for PORT in front of Daphne processes on BACKEND_PORTS (loopback).
# Usage: haproxy-config.sh PORT BACKEND_PORT,BACKEND_PORT,... [STATS_SOCKET]. Shared by `make run`
# (scripts/proxy.sh), bench/ and the tests (bench/_stack.py), so what is measured and tested is what runs.
set -euo pipefail
port=$1
backends=$2
stats=${3:-}
cat <<CFG
global
    # Per proxy: a capture socket is two connections here (browser side, Daphne side). Below the usual
    # open-files limit of a shell (ulimit -n), so HAProxy starts without raising it.
    maxconn 8000
$( [[ -n $stats ]] && echo "    stats socket $stats mode 600 level user" )

defaults
    mode http
    # The capture socket lives for the whole session: after the upgrade HAProxy only relays bytes
    # ("tunnel"), and an hour without a byte either way is a dead peer. Connects and the handshake are short.
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h
    timeout client-fin 5s
    timeout http-request 10s
    # A connect refused by a Daphne that just died is tried again on another one (option redispatch):
    # the browser's reconnect lands on a live process instead of failing once more.
    retries 2
    option redispatch
    option http-server-close
    option forwardfor

frontend web
    bind 127.0.0.1:$port
    default_backend daphne

backend daphne
    # The capture sockets are long and even: the least-loaded process takes the next one.
    balance leastconn
    # A TCP check (a live Daphne accepts): /healthz also asks Celery and the database, and a busy worker
    # must not take every web process out of the pool.
    # A live socket is never cut by a failed check: only new connections avoid a process marked down.
    default-server check inter 1s fall 2 rise 2
CFG
i=0
for backend in ${backends//,/ }; do
  i=$((i + 1))
  echo "    server web$i 127.0.0.1:$backend"
done
