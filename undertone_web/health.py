"""Checks behind /healthz. Each returns "ok" or a short name of what is wrong (never a traceback)."""

import redis
from django.conf import settings
from django.db import connection

from .celery import app as celery_app


def check_db() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is reported as a value
        return f"error: {type(exc).__name__}"


def check_redis() -> str:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        return "ok" if client.ping() else "error: no pong"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


def check_celery() -> str:
    try:
        replies = celery_app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok" if replies else "error: no worker answered"
