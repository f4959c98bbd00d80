"""Cross-site WebSocket hijacking: a page on another site opens a socket to ours, and the browser sends
our cookies with it. Against real Daphne with a raw `websockets` client, both sockets (the capture
socket and the laptop's pairing push socket) must refuse the handshake (HTTP 403, from Channels'
AllowedHostsOriginValidator in undertone_web/asgi.py) whatever the cookies, when the Origin is foreign,
missing, `null`, or a lookalike of an allowed host. The same request from this origin is accepted, so
the refusal is the Origin's doing. The in-process version of one case is
tests/capture/test_consumer.py::test_foreign_origin_is_refused_before_anything_else."""

import asyncio
import json

import pytest
from django.conf import settings
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from capture.models import CaptureWindow
from tests.security.conftest import LAPTOP_UA, recording_session, session_cookie_of, signed_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REFUSED_ORIGINS = {
    "foreign": "https://evil.example",
    "missing": None,
    "null": "null",  # sandboxed iframes, data: URLs, some redirects
    "lookalike host": "http://127.0.0.1.evil.com",
    "allowed host as a subdomain": "http://localhost.evil.com",
    "allowed host as user info": "http://127.0.0.1@evil.com",
}


async def _handshake(url: str, *, origin: str | None, cookie: str) -> tuple[str, object]:
    """("refused", HTTP status) or ("open", the first message or None within a short wait)."""
    try:
        async with connect(url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
            if "/ws/capture/" in url:
                await ws.send(json.dumps({"type": "hello", "proto": 1, "channels": [0]}))
            try:
                return "open", json.loads(await asyncio.wait_for(ws.recv(), 2))
            except TimeoutError:
                return "open", None
    except InvalidStatus as exc:
        return "refused", exc.response.status_code


@pytest.fixture
def sockets(asgi_server, user):
    """Both sockets, each with the cookie that would let it in."""
    session = recording_session(user)
    session_cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie_of(signed_in(user))}"
    laptop = Client(headers={"user-agent": LAPTOP_UA})
    pairing = laptop.get("/capture/").context["pairing"]
    base = f"ws://127.0.0.1:{asgi_server.port}"
    return {
        "capture": (f"{base}/ws/capture/{session.id}/", session_cookie, session),
        "pairing": (f"{base}{pairing['ws_path']}", f"uw_pair={laptop.cookies['uw_pair'].value}", None),
    }


@pytest.mark.parametrize("socket_name", ["capture", "pairing"])
def test_foreign_missing_null_and_lookalike_origins_are_refused(asgi_server, sockets, socket_name):
    url, cookie, session = sockets[socket_name]
    log_start = len(asgi_server.output())

    async def scenario():
        own = await _handshake(url, origin=asgi_server.url, cookie=cookie)
        others = {name: await _handshake(url, origin=o, cookie=cookie) for name, o in REFUSED_ORIGINS.items()}
        return own, others

    own, others = asyncio.run(scenario())
    # From this origin the same cookie gets in: the capture socket welcomes, the pairing socket stays open.
    if socket_name == "capture":
        assert own[0] == "open" and own[1]["type"] == "welcome", own
    else:
        assert own == ("open", None), own
    assert others == dict.fromkeys(REFUSED_ORIGINS, ("refused", 403))
    if session is not None:  # a refused socket never reached the session
        assert not CaptureWindow.objects.filter(session=session).exists()
    log = asgi_server.output()[log_start:]
    assert "Traceback" not in log and "Exception inside application" not in log
