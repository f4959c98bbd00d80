import os
import subprocess
import sys

from tests.conftest import ROOT

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "undertone_web.settings.production",
    "SECRET_KEY": "x7Qk2-very-long-random-looking-production-secret-value-9f8e7d6c5b4a3-LmNoP",
    "RECAP_ENCRYPTION_KEYS": "hSgN8XoAQXW0Ls8mD5fW1x0vZ9Fh2hGfCzHn0n3G1Yk=",
    "ALLOWED_HOSTS": "undertone.example.org",
    "SITE_URL": "https://undertone.example.org",
    "DATABASE_URL": "sqlite:////tmp/undertone-deploy-check.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:6391/0",
}


def _manage(*args, env):
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )


def test_check_deploy_with_production_settings_has_zero_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_secret_key():
    missing = _manage("check", env={k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"})
    assert missing.returncode != 0
    assert "SECRET_KEY" in missing.stderr
    empty = _manage("check", env={**PROD_ENV, "SECRET_KEY": ""})
    assert empty.returncode != 0
    assert "SECRET_KEY" in empty.stderr


def test_production_has_debug_off_and_secure_cookies():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        env={**PROD_ENV, "DEBUG": "true"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["False", "True", "True"]


def test_production_refuses_to_start_without_its_https_address():
    # Reminder emails and the calendar feed link to it; 127.0.0.1 would be a link that goes nowhere.
    missing = _manage("check", env={k: v for k, v in PROD_ENV.items() if k != "SITE_URL"})
    assert missing.returncode != 0 and "SITE_URL" in missing.stderr
    plain = _manage("check", env={**PROD_ENV, "SITE_URL": "http://undertone.example.org"})
    assert plain.returncode != 0 and "https://" in plain.stderr
