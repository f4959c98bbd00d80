"""Where the language-model engine may send a transcript (recaps/llm_config.py)."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from recaps.llm_config import host_is_private, llm_target


def test_the_engine_is_off_without_a_url():
    with override_settings(RECAP_LLM_URL=""):
        assert llm_target() is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8080/v1",
        "http://10.0.0.7:8000/v1",
        "http://[::1]:8000/v1",
    ],
)
def test_loopback_and_private_servers_are_allowed(url):
    with override_settings(RECAP_LLM_URL=url, RECAP_LLM_MODEL="llama3.2:3b"):
        target = llm_target()
    assert target and not target.remote and target.url == url


@pytest.mark.parametrize(
    "url", ["https://api.example.com/v1", "http://8.8.8.8/v1", "http://no-such-host.invalid/v1"]
)
def test_a_remote_url_is_refused_at_start_up_unless_allowed(url):
    with override_settings(RECAP_LLM_URL=url, RECAP_LLM_MODEL="m", RECAP_LLM_ALLOW_REMOTE=False):
        with pytest.raises(ImproperlyConfigured, match="RECAP_LLM_ALLOW_REMOTE"):
            llm_target()
    with override_settings(RECAP_LLM_URL=url, RECAP_LLM_MODEL="m", RECAP_LLM_ALLOW_REMOTE=True):
        assert llm_target().remote


def test_a_url_without_a_model_or_scheme_is_refused():
    with override_settings(RECAP_LLM_URL="http://127.0.0.1:11434/v1", RECAP_LLM_MODEL=""):
        with pytest.raises(ImproperlyConfigured, match="RECAP_LLM_MODEL"):
            llm_target()
    with override_settings(RECAP_LLM_URL="127.0.0.1:11434", RECAP_LLM_MODEL="m"):
        with pytest.raises(ImproperlyConfigured, match="http"):
            llm_target()


def test_host_checks():
    assert host_is_private("127.0.0.1") and host_is_private("192.168.1.20") and host_is_private("localhost")
    assert not host_is_private("1.1.1.1")


def test_start_up_refuses_a_remote_server():
    """`manage.py check` (Django start-up) fails with the reason, before any transcript exists."""
    env = {
        **os.environ,
        "RECAP_LLM_URL": "https://api.example.com/v1",
        "RECAP_LLM_MODEL": "m",
        "DJANGO_SETTINGS_MODULE": "undertone_web.settings.test",
    }
    env.pop("RECAP_LLM_ALLOW_REMOTE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "RECAP_LLM_ALLOW_REMOTE" in done.stderr
