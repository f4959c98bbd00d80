#!/usr/bin/env bash
# First run only: random per-machine secrets in var/secrets.env (mode 600, git-ignored). Environment
# variables still win (settings read the file without overwriting).
set -euo pipefail
mkdir -p var
[[ -f var/secrets.env ]] && exit 0
umask 077
.venv/bin/python - <<'PY'
import secrets
from cryptography.fernet import Fernet
with open("var/secrets.env", "w") as fh:
    fh.write(f"SECRET_KEY={secrets.token_urlsafe(50)}\n")
    fh.write(f"RECAP_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n")
PY
echo "Wrote var/secrets.env (keep it: it holds the key to your recaps)."
