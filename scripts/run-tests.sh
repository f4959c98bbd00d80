#!/usr/bin/env bash
# Starts the project's own throwaway Redis (no persistence) unless REDIS_URL is set, runs pytest,
# and always stops that Redis again.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/staticfiles  # git-ignored: test databases; an empty STATIC_ROOT keeps whitenoise quiet
if [[ -z ${REDIS_URL:-} ]]; then
  port=${TEST_REDIS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
    --dir /tmp --logfile /tmp/undertone-test-redis.log --pidfile "/tmp/undertone-test-redis-$port.pid"
  trap 'redis-cli -p '"$port"' shutdown nosave >/dev/null 2>&1 || true' EXIT
  export REDIS_URL="redis://127.0.0.1:$port/0"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
export DJANGO_SETTINGS_MODULE=undertone_web.settings.test
# The database: TEST_DATABASE_URL (a PostgreSQL server; pytest-django creates and drops its own
# test_<name>_<pid> database there), else a SQLite file under var/. Never the DATABASE_URL of `make run`.
unset DATABASE_URL
if [[ -n ${TEST_DATABASE_URL:-} ]]; then
  echo "run-tests: database ${TEST_DATABASE_URL%%\?*} (TEST_DATABASE_URL)" | sed -E 's#://([^:@/]*):[^@/]*@#://\1:***@#'
else
  echo "run-tests: database SQLite (set TEST_DATABASE_URL=postgres://... for PostgreSQL)"
fi
.venv/bin/python -m pytest "$@"
