#!/usr/bin/env bash
# Usage: apt-ensure.sh PACKAGE:PROBE ...  PROBE is a command name or a path; install PACKAGE when missing.
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg=${spec%%:*}; probe=${spec#*:}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg"); else command -v "$probe" >/dev/null || missing+=("$pkg"); fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
