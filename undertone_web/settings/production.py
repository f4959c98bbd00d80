"""Production: no default secrets, no DEBUG, HTTPS everywhere. `manage.py check --deploy` passes with
0 warnings given a real environment (see tests/test_settings.py)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # no default: refuse to start without one
RECAP_ENCRYPTION_KEYS = env.list("RECAP_ENCRYPTION_KEYS")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of at least 50 characters")
if not RECAP_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("RECAP_ENCRYPTION_KEYS must hold at least one Fernet key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Reminder emails and the calendar feed link back to the site: a default of 127.0.0.1 would send
# people links that go nowhere, so production names its address.
SITE_URL = env.str("SITE_URL").rstrip("/")
if not SITE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "SITE_URL must be the site's https:// address, e.g. https://undertone.example.org"
    )
# Fault injection is for the privacy audit and tests only: never in production, not even by mistake.
FAULT_INJECTION = frozenset()
if env.str("UNDERTONE_FAULT", default=""):
    raise ImproperlyConfigured("UNDERTONE_FAULT is a test-only setting; unset it in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
