"""`make run` for real, as the README tells a person to: it must bring up Redis (persistence off),
Daphne and a Celery worker, answer /healthz with everything ok, and let a new person sign up and
log in in a real browser. Ctrl-C (SIGINT) stops all of it."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, launch_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _healthz(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
            return json.loads(response.read())
    except Exception:  # noqa: BLE001 - not up yet, or 503 while the worker starts
        return None


def test_make_run_serves_health_and_a_person_can_sign_up(tmp_path, playwright_instance, artifacts_dir):
    port, redis_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"REDIS_PORT={redis_port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so SIGINT reaches it like Ctrl-C
    )
    url = f"http://127.0.0.1:{port}"
    try:
        health = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and health != {"db": "ok", "redis": "ok", "celery": "ok"}:
            assert proc.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            health = _healthz(url)
            time.sleep(0.5)
        assert health == {"db": "ok", "redis": "ok", "celery": "ok"}, (tmp_path / "make-run.log").read_text()[
            -3000:
        ]
        printed = (tmp_path / "make-run.log").read_text()
        assert f"http://127.0.0.1:{port}" in printed

        # The project's own Redis runs with persistence off.
        config = subprocess.run(
            ["redis-cli", "-p", str(redis_port), "config", "get", "save"], capture_output=True, text=True
        ).stdout.split()
        aof = subprocess.run(
            ["redis-cli", "-p", str(redis_port), "config", "get", "appendonly"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert config[1:] in ([], [""]) and aof[1] == "no"

        browser = launch_chromium(playwright_instance)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            page.goto(url)
            page.screenshot(path=str(artifacts_dir / "home-390.png"), full_page=True)
            page.click("text=Create your account")
            page.fill("#id_username", "quiet-fern")
            page.fill("#id_password1", "a-long-calm-passphrase-77")
            page.fill("#id_password2", "a-long-calm-passphrase-77")
            page.screenshot(path=str(artifacts_dir / "signup-390.png"), full_page=True)
            page.click("main button[type=submit]")
            page.wait_for_selector("text=Hello, quiet-fern")
            page.click("header button:has-text('Log out')")
            page.wait_for_selector("text=Create your account")
            page.goto(f"{url}/accounts/login/")
            page.fill("#id_username", "quiet-fern")
            page.fill("#id_password", "a-long-calm-passphrase-77")
            page.click("main button[type=submit]")
            page.wait_for_selector("text=Hello, quiet-fern")
            page.screenshot(path=str(artifacts_dir / "home-signed-in-390.png"), full_page=True)
            desktop = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            desktop.goto(url)
            desktop.screenshot(path=str(artifacts_dir / "home-1280.png"))
        finally:
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    # Ctrl-C stopped everything: nothing listens on either port any more.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_port_open(port) or _port_open(redis_port)):
        time.sleep(0.2)
    assert not _port_open(port) and not _port_open(redis_port)
