"""Where the language-model recap engine may send a transcript. A transcript is the most private thing
this product touches, so by default it may only go to a server on this machine or on a private network;
anything else needs RECAP_LLM_ALLOW_REMOTE=true, said out loud in the settings."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class LlmTarget:
    url: str
    model: str
    api_key: str
    timeout_s: float
    host: str
    remote: bool  # outside loopback and private networks (allowed only by RECAP_LLM_ALLOW_REMOTE)

    def client_settings(self):
        from .engines.llm_client import LlmSettings

        return LlmSettings(url=self.url, model=self.model, api_key=self.api_key, timeout_s=self.timeout_s)


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or ip.is_private or ip.is_link_local


def host_is_private(host: str) -> bool:
    """True for loopback or private addresses, and for names that resolve only to such addresses. A name
    that does not resolve counts as remote: nothing is sent to a place that cannot be checked."""
    if host == "localhost":
        return True
    try:
        return _is_private(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(_is_private(a.split("%")[0]) for a in addresses)


def llm_target() -> LlmTarget | None:
    """The configured model server, checked; None when the engine is off (no RECAP_LLM_URL)."""
    url = settings.RECAP_LLM_URL.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured("RECAP_LLM_URL must be an http(s) URL, e.g. http://127.0.0.1:11434/v1")
    if not settings.RECAP_LLM_MODEL:
        raise ImproperlyConfigured("RECAP_LLM_MODEL is required when RECAP_LLM_URL is set")
    remote = not host_is_private(parts.hostname)
    if remote and not settings.RECAP_LLM_ALLOW_REMOTE:
        raise ImproperlyConfigured(
            f"RECAP_LLM_URL points outside this machine and private networks ({parts.hostname}); "
            "transcripts would leave them. Set RECAP_LLM_ALLOW_REMOTE=true to allow it."
        )
    return LlmTarget(
        url=url.rstrip("/"),
        model=settings.RECAP_LLM_MODEL,
        api_key=settings.RECAP_LLM_API_KEY,
        timeout_s=float(settings.RECAP_LLM_TIMEOUT_S),
        host=parts.hostname,
        remote=remote,
    )
