"""Test settings: the project's own test Redis (REDIS_URL from `make test`), a file SQLite database so
the real Celery worker and Daphne started by the tests see the same rows, or PostgreSQL when
TEST_DATABASE_URL is set (`TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test make test`)."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import VAR_DIR, env, redis_channel_layer

DEBUG = False
SECRET_KEY = "test-secret-key-not-used-anywhere-else-0123456789abcdef"
# Fixed test keys: generated with Fernet.generate_key(), only ever used by the test suite.
RECAP_ENCRYPTION_KEYS = ["hSgN8XoAQXW0Ls8mD5fW1x0vZ9Fh2hGfCzHn0n3G1Yk="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# TEST_DATABASE_URL names the server the test run uses; pytest-django creates (and drops) a database
# of its own on it, test_<name>_<pid>, so two runs on one machine cannot drop each other's. The
# processes the tests start (Daphne, Celery) are told that database as DATABASE_URL with
# TEST_DATABASE_URL removed (tests/conftest.py subprocess_env, bench/_stack.py), so they land below
# on base.py's DATABASE_URL instead. Without it: SQLite (scripts/run-tests.sh unsets DATABASE_URL).
if env.str("TEST_DATABASE_URL", default=""):
    DATABASES = {"default": env.db("TEST_DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        raise ImproperlyConfigured("TEST_DATABASE_URL is for a database server; SQLite is the default")
    # As base.py sets them for a server.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file (not :memory:) so the Daphne and Celery subprocesses see the same rows; one per pytest
    # process so two runs on one machine cannot delete each other's database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405

# Unit tests talk to an in-memory layer; integration tests switch to Redis with the
# `redis_channel_layer` fixture.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# `make test` starts its own Redis on 6391 (scripts/run-tests.sh) and passes REDIS_URL.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6391/0")
CELERY_BROKER_URL = REDIS_URL
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "uw:test",
    }
}

# Subprocesses started by the tests (Daphne, Celery worker) must share one layer: Redis.
if env.bool("USE_REDIS_CHANNEL_LAYER", default=False):
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
