"""Two Daphne processes behind HAProxy (bench/_stack.py web_processes=2, the layout `make run
WEB_PROCESSES=2` runs): whatever process a browser's socket lives on, the channel layer's groups reach it.
HAProxy's stats socket says which process holds each socket, so the test knows they are different.

One session, one laptop (a linked device), in order:
- tab 1 records a sentence through the proxy (process A);
- tab 2 opens through the proxy on process B and takes the recording over: A queues what tab 1 acked and
  closes it with 4408, and B's welcome continues after it (a takeover across processes);
- the real Celery worker transcribes that window, and its commit reaches tab 2 on B;
- the person revokes the laptop in a request served by A: tab 2's socket on B closes with 4403."""

import asyncio
import json
import secrets
import urllib.request

import pytest
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from capture import services
from capture.consent.services import consent_record_save
from capture.models import LinkedDevice
from capture.protocol import FRAME_BYTES, encode_frame
from tests.audio import espeak_pcm
from tests.capture.conftest import session_cookie
from tests.capture.test_pairing import linked_laptop
from tests.conftest import stack_on_test_db
from tests.factories import consent_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_web_stack(transactional_db, tmp_path):
    stack = stack_on_test_db(tmp_path, web_processes=2)
    stack.start()
    yield stack
    stack.stop()


async def _next(ws, kind: str, timeout: float = 10) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def _close_code(ws, timeout: float = 10) -> int | None:
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


def _revoke_on(port: int, *, device_id, cookie: str) -> int:
    """The revoke form, posted as the phone's browser would, to one web process directly."""
    csrf = secrets.token_hex(16)  # 32 characters: Django accepts the cookie's secret as the token
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/capture/devices/{device_id}/revoke/",
        data=b"",
        method="POST",
        headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}; {settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_commit_takeover_and_revoke_reach_a_socket_on_the_other_process(two_web_stack, user, tmp_path):
    stack = two_web_stack
    laptop = linked_laptop(user)
    device = LinkedDevice.objects.get(user=user)
    session = services.capture_session_create(user=user, device=device)
    consent_record_save(session=session, consent=consent_record())
    laptop_cookie = laptop.client.cookies[settings.SESSION_COOKIE_NAME].value
    phone_cookie = session_cookie(user)  # the person signed in on the phone, who revokes the laptop
    pcm = espeak_pcm("Then on Thursday I finally spoke to my sister about the holidays.", tmp_dir=tmp_path)
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={laptop_cookie}"}
    hello = json.dumps({"type": "hello", "proto": 1, "channels": [0]})

    def holder() -> str:
        """The one process with a socket open (as HAProxy counts them)."""
        (name,) = [name for name, n in stack.haproxy_sessions().items() if n]
        return name

    async def scenario():
        url = stack.ws_url(session.id)
        async with connect(url, origin=stack.web_url, additional_headers=headers) as tab1:
            await tab1.send(hello)
            assert (await _next(tab1, "welcome"))["next"] == {"0": 0}
            first = holder()
            for seq, frame in enumerate(frames):
                await tab1.send(encode_frame(channel=0, seq=seq, pcm=frame))
            acked = set()
            while len(acked) < len(frames):
                acked.add((await _next(tab1, "ack"))["seq"])
            async with connect(url, origin=stack.web_url, additional_headers=headers) as tab2:
                # leastconn: the second tab lands on the process without a socket.
                assert set(stack.haproxy_sessions().values()) == {1}
                await tab2.send(hello)
                welcome = await _next(tab2, "welcome")
                tab1_closed = await _close_code(tab1)
                second = holder()
                # The worker transcribes the window the first process queued at the takeover.
                commit = await _next(tab2, "commit", timeout=90)
                while commit["commit"]["0"] < len(frames) - 1:  # a silent tail may commit first
                    commit = await _next(tab2, "commit", timeout=90)
                port_of_first = stack.backend_ports[stack.web_names().index(first)]
                status = await asyncio.to_thread(
                    _revoke_on, port_of_first, device_id=device.id, cookie=phone_cookie
                )
                tab2_closed = await _close_code(tab2)
        return first, second, welcome, tab1_closed, commit, status, tab2_closed

    first, second, welcome, tab1_closed, commit, status, tab2_closed = asyncio.run(scenario())
    assert first != second
    assert tab1_closed == 4408
    assert welcome["next"] == {"0": len(frames)}, "the second tab continues after all the first one recorded"
    assert commit["commit"]["0"] == len(frames) - 1, commit
    assert status == 200
    assert tab2_closed == 4403
    assert LinkedDevice.objects.get(id=device.id).revoked_at is not None
