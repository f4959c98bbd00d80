"""Shared fixtures. Unit tests use the in-memory channel layer; integration tests start the real
parts as subprocesses (a Celery worker, Daphne) against the same test database and the test Redis
that `make test` started."""

import os
import socket
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib
from django.conf import settings

from bench._stack import Service, Stack

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_sessionstart(session):
    # pytest-django recreates the test database file but leaves SQLite's -wal/-shm beside it; a stale
    # pair makes the next process that opens the new file fail with "disk I/O error".
    for leftover in (ROOT / "var").glob(f"test-db-{os.getpid()}.sqlite3*"):
        leftover.unlink()


def pytest_collection_modifyitems(config, items):
    # Real-browser tests run last: Playwright's sync API keeps an event loop in the main thread for
    # the rest of the session, which async_to_sync in later tests would trip over.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def redis_client():
    client = redis_lib.Redis.from_url(settings.REDIS_URL)
    client.ping()  # fail loudly: `make test` starts this Redis
    return client


@pytest.fixture
def one_ratelimit_window(monkeypatch):
    """Holds django-ratelimit's clock still for one test. Its windows end at a wall-clock second that
    can fall in the middle of a test that counts requests up to a limit; the count then starts over
    and the test sees 410 again after a 429 (seen once in CI). The limiter's logic is unchanged."""
    from types import SimpleNamespace

    from django_ratelimit import core

    now = time.time()
    monkeypatch.setattr(core, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def clean_redis(redis_client):
    redis_client.flushdb()
    yield redis_client
    redis_client.flushdb()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _db_url() -> str:
    """The database this test run uses (the test database once pytest-django has set it up), as the
    DATABASE_URL that the processes the tests start read (base.py)."""
    from urllib.parse import quote

    from django.db import connection

    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user, password = quote(conf["USER"] or "", safe=""), quote(conf["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = conf["HOST"] or ""  # TCP (a socket directory would not survive django-environ's parser)
    port = f":{conf['PORT']}" if conf["PORT"] else ""
    return f"postgres://{auth}{host}{port}/{quote(conf['NAME'], safe='')}"


def stack_on_test_db(tmp_path: Path, *, env: dict | None = None, **options) -> Stack:
    """A bench/_stack.py stack (its own Redis, Daphne, a Celery worker) on this run's test settings and
    database, this process's Django left alone, its logs kept under `tmp_path`. `options`: Stack's."""
    return Stack(
        keep=True,
        base_dir=tmp_path,
        django_in_process=False,
        migrate=False,
        env={
            **(env or {}),
            "DJANGO_SETTINGS_MODULE": "undertone_web.settings.test",
            "DATABASE_URL": _db_url(),
            "USE_REDIS_CHANNEL_LAYER": "1",
        },
        **options,
    )


def subprocess_env(**extra) -> dict:
    # TEST_DATABASE_URL would point a child's test settings at the server's base database instead of
    # this run's test database: children get DATABASE_URL only.
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="undertone_web.settings.test",
        DATABASE_URL=_db_url(),
        REDIS_URL=settings.REDIS_URL,
        USE_REDIS_CHANNEL_LAYER="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def proc_log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("proc-logs")


def start_worker(log_dir: Path, name: str = "worker", **env) -> Service:
    proc = Service(
        name,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "undertone_web",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}-{os.getpid()}@%h",
        ],
        subprocess_env(**env),
        log_dir,
    )
    from undertone_web.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return proc
        if proc.popen.poll() is not None:
            raise RuntimeError(f"worker exited:\n{proc.output()[-3000:]}")
    raise RuntimeError(f"worker did not answer ping:\n{proc.output()[-3000:]}")


def start_daphne(log_dir: Path, port: int, name: str = "daphne", **env) -> Service:
    proc = Service(
        name,
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "undertone_web.asgi:application",
        ],
        subprocess_env(**env),
        log_dir,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{proc.output()[-3000:]}") from None
            time.sleep(0.2)
    raise RuntimeError("daphne did not start")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, proc_log_dir):
    with django_db_blocker.unblock():
        proc = start_worker(proc_log_dir)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, proc_log_dir):
    """Real Daphne serving the app (HTTP + WebSockets) on a free port."""
    port = free_port()
    with django_db_blocker.unblock():
        proc = start_daphne(proc_log_dir, port)
    proc.url = f"http://127.0.0.1:{port}"
    proc.port = port
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
    # are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch_chromium(playwright, *extra_args):
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = launch_chromium(playwright_instance)
    yield b
    b.close()


@pytest.fixture(scope="session")
def artifacts_dir():
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def other_user(db):
    from tests.factories import UserFactory

    return UserFactory()
