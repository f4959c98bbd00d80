"""Admission control (capture/admission.py, docs/protocol.md "Busy"): NEW capture sessions are refused
at the door (4503, before any welcome) while a web process is past what it can serve; a session that is
already recording never is, whichever socket or process it comes back on."""

import asyncio
import json
import time

import pytest
from django.test import override_settings

from capture import admission, services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow
from capture.protocol import encode_frame
from tests.capture.conftest import communicator, run
from tests.factories import consent_record

LIMITS = admission.Limits(max_sockets=2, max_lag_ms=50)


@pytest.fixture(autouse=True)
def no_sockets_left_by_other_tests():
    """The socket count is per process. A test elsewhere whose consumer closed the socket itself, and
    whose communicator never sent the disconnect that Daphne always sends, leaves it counted: run after
    tests/capture/test_consumer.py, the cap of one below was already reached."""
    before, admission.MONITOR.sockets = admission.MONITOR.sockets, 0
    yield
    admission.MONITOR.sockets = before


def test_a_new_session_is_refused_at_the_socket_cap_or_past_the_lag_limit():
    assert admission.refusal(sockets=1, lag_ms=10, limits=LIMITS) is None
    assert admission.refusal(sockets=2, lag_ms=10, limits=LIMITS) == "sockets"
    assert admission.refusal(sockets=0, lag_ms=51, limits=LIMITS) == "lag"
    # 0 turns a check off.
    assert admission.refusal(sockets=10**6, lag_ms=10**6, limits=admission.Limits(0, 0)) is None


def test_the_monitor_sees_the_event_loop_stalled_by_blocking_work():
    monitor = admission.LoadMonitor()

    async def scenario():
        monitor.ensure_running()
        await asyncio.sleep(0.3)
        calm = monitor.lag_ms
        for _ in range(12):  # most of the 2 s window
            time.sleep(0.15)  # synchronous work in the loop: every callback waits behind it
            await asyncio.sleep(0)
        return calm, monitor.lag_ms

    calm, stalled = asyncio.run(scenario())
    # An idle loop is not busy by the default limit; a loop blocked most of the time is, by far.
    assert calm < 50
    assert stalled > 80


def _session(user) -> CaptureSession:
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    return session


async def _welcome(comm) -> dict:
    await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": [0]}))
    while True:
        message = json.loads(await comm.receive_from(timeout=5))
        if message["type"] == "welcome":
            return message


async def _refused_code(comm):
    connected, _ = await comm.connect()
    assert connected  # accepted first, so the close carries a code the browser can read
    output = await comm.receive_output(timeout=5)
    return output.get("code") if output["type"] == "websocket.close" else output


ONE_SOCKET = {"MAX_SOCKETS_PER_PROCESS": 1, "MAX_LOOP_LAG_MS": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe")
def test_at_the_cap_a_new_session_is_refused_while_a_recording_one_reconnects(user, cookie, clean_redis):
    recording, newcomer = _session(user), _session(user)

    async def scenario():
        with override_settings(WEB_ADMISSION=ONE_SOCKET):
            first = communicator(recording.id, cookie=cookie)
            await first.connect()
            await _welcome(first)
            for seq in range(3):
                await first.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=bytes(6400)))
            # Past the cap (1 socket in this process): the new session never starts.
            refused = await _refused_code(communicator(newcomer.id, cookie=cookie))
            # The recording session's second tab (or a reload) still comes in, over the cap, and takes over.
            second = communicator(recording.id, cookie=cookie)
            await second.connect()
            welcome = await _welcome(second)
            closed = await first.receive_output(timeout=5)
            while closed["type"] != "websocket.close":
                closed = await first.receive_output(timeout=5)
            await first.disconnect()
            await second.disconnect()
            return refused, welcome

    refused, welcome = run(scenario)
    assert refused == 4503
    assert welcome["next"] == {"0": 3}, "the older tab's acked audio was kept: nothing lost"
    # Nothing of the refused session exists: no claim, no admission, no window.
    assert not clean_redis.exists(f"uw:writer:{newcomer.id}")
    assert not clean_redis.exists(f"uw:admitted:{newcomer.id}")
    assert not CaptureWindow.objects.filter(session_id=newcomer.id).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe")
def test_a_session_with_audio_on_the_server_is_admitted_even_when_redis_forgot_it(user, cookie, clean_redis):
    """A Redis restart (no persistence) loses the admitted mark; the audio the session already has in the
    database still says it is recording, so a busy process lets it back in."""
    session, other_session = _session(user), _session(user)

    async def scenario():
        comm = communicator(session.id, cookie=cookie)
        await comm.connect()
        await _welcome(comm)
        for seq in range(3):
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=bytes(6400)))
        await comm.disconnect()  # queues what was acked as a window
        clean_redis.flushdb()
        with override_settings(WEB_ADMISSION=ONE_SOCKET):
            other = communicator(other_session.id, cookie=cookie)  # fills this process's one place
            await other.connect()
            await _welcome(other)
            back = communicator(session.id, cookie=cookie)
            await back.connect()
            welcome = await _welcome(back)
            await back.disconnect()
            await other.disconnect()
            return welcome

    welcome = run(scenario)
    assert welcome["next"] == {"0": 3}
