#!/usr/bin/env bash
# Runs the browser-side unit tests (tests/js/*.mjs) with node's built-in test
# runner: no npm packages, so a plain `apt-get install nodejs` is enough.
# Exits non-zero if any test fails; the summary (tests / pass / fail) is the
# last lines of the output.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null; then
  echo "node is missing: install it with: apt-get install -y nodejs" >&2
  exit 1
fi
# --test-reporter needs 18.15 (Debian 12's nodejs is 18.20).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 15) ? 0 : 1)'; then
  echo "node $(node --version) is too old for these tests (18.15 or newer)" >&2
  exit 1
fi
shopt -s nullglob
files=(tests/js/*.mjs)
if (( ${#files[@]} == 0 )); then
  echo "no tests found in tests/js/" >&2
  exit 1
fi
# The spec reporter prints each test and the counts; TAP (node 18's default)
# is too noisy to read in a make log.
exec node --test --test-reporter=spec "${files[@]}"
