"""Protocol tests of the capture socket through the real ASGI stack (Origin validator, session auth,
consumer), with the in-memory channel layer and the test Redis for window audio."""

import json

import pytest
from django.conf import settings
from django.test import override_settings

from capture import services
from capture.models import CaptureSession, CaptureWindow
from capture.protocol import HEADER, encode_frame
from tests.audio import silence
from tests.capture.conftest import communicator, run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_transcribe", "clean_redis"),
]

QUIET = silence(0.2)


async def _open(session_id, cookie, *, hello=True, channels=(0,)):
    comm = communicator(session_id, cookie=cookie)
    connected, _ = await comm.connect()
    assert connected
    if hello:
        await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": list(channels)}))
        welcome = json.loads(await comm.receive_from(timeout=5))
        assert welcome["type"] == "welcome"
        return comm, welcome
    return comm, None


async def _next_of_type(comm, kind, timeout=5):
    while True:
        message = json.loads(await comm.receive_from(timeout=timeout))
        if message["type"] == kind:
            return message


async def _close_code(comm, timeout=5):
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


def test_unauthenticated_socket_is_closed_with_4401(consented_session):
    async def scenario():
        comm = communicator(consented_session.id)
        connected, _ = await comm.connect()
        assert connected
        assert await _close_code(comm) == 4401

    run(scenario)


def test_foreign_origin_is_refused_before_anything_else(consented_session, cookie):
    async def scenario():
        comm = communicator(consented_session.id, cookie=cookie, origin=b"https://evil.example")
        connected, _ = await comm.connect()
        assert connected is False

    run(scenario)


def test_another_users_session_is_not_found(consented_session, other_cookie):
    async def scenario():
        comm = communicator(consented_session.id, cookie=other_cookie)
        await comm.connect()
        assert await _close_code(comm) == 4404

    run(scenario)


def test_session_without_consent_refuses_the_socket(user, cookie):
    session = services.capture_session_create(user=user)

    async def scenario():
        comm = communicator(session.id, cookie=cookie)
        await comm.connect()
        assert await _close_code(comm) == 4412

    run(scenario)


def test_two_mib_frame_closes_with_4009(consented_session, cookie):
    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        await comm.send_to(bytes_data=HEADER.pack(1, 0, 0, 0) + bytes(2 * 1024 * 1024))
        assert await _close_code(comm) == 4009  # not 1009: see capture/protocol.py CLOSE_TOO_BIG

    run(scenario)


def test_malformed_frames_get_errors_and_the_session_keeps_working(consented_session, cookie):
    async def scenario():
        comm, welcome = await _open(consented_session.id, cookie)
        assert welcome["next"] == {"0": 0}
        bad = [
            (b"\x01\x00", "bad_header"),
            (HEADER.pack(9, 0, 0, 0) + QUIET, "bad_version"),
            (HEADER.pack(1, 7, 0, 0) + QUIET, "bad_channel"),
            (HEADER.pack(1, 0, 0, 0) + QUIET[:100], "bad_payload"),
            (HEADER.pack(1, 1, 0, 0) + QUIET, "hello_first"),  # channel 1 was not announced
        ]
        for data, code in bad:
            await comm.send_to(bytes_data=data)
            message = json.loads(await comm.receive_from(timeout=5))
            assert (message["type"], message["code"]) == ("error", code)
        await comm.send_to(text_data="{not json")
        assert (await _next_of_type(comm, "error"))["code"] == "bad_json"
        await comm.send_to(text_data=json.dumps({"type": "launch"}))
        assert (await _next_of_type(comm, "error"))["code"] == "unknown_type"
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=0, pcm=QUIET))
        assert await _next_of_type(comm, "ack") == {"type": "ack", "ch": 0, "seq": 0}
        await comm.disconnect()

    run(scenario)


def test_duplicates_are_acked_and_dropped_and_gaps_ask_for_a_resend(consented_session, cookie):
    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        for seq in range(3):
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
            assert (await _next_of_type(comm, "ack"))["seq"] == seq
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=1, pcm=QUIET))  # duplicate
        assert (await _next_of_type(comm, "ack"))["seq"] == 1
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=7, pcm=QUIET))  # out of order
        gap = await _next_of_type(comm, "error")
        assert gap == {"type": "error", "code": "seq_gap", "detail": gap["detail"], "ch": 0, "expected": 3}
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=3, pcm=QUIET))
        assert (await _next_of_type(comm, "ack"))["seq"] == 3
        # Two frames in one message (as the browser sends): one ack, for the second; then a message
        # that overlaps what is held keeps only its new frame.
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=4, pcm=QUIET * 2))
        assert await _next_of_type(comm, "ack") == {"type": "ack", "ch": 0, "seq": 5}
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=5, pcm=QUIET * 2))
        assert (await _next_of_type(comm, "ack"))["seq"] == 6
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=7, pcm=QUIET))
        assert (await _next_of_type(comm, "ack"))["seq"] == 7, "seq 6 was held: 7 is the next expected"
        await comm.disconnect()

    run(scenario)


def test_silence_is_committed_without_the_model(consented_session, cookie):
    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        for seq in range(40):  # 8 s of silence
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
        commit = await _next_of_type(comm, "commit")
        assert commit["commit"]["0"] >= 20
        await comm.disconnect()

    run(scenario)
    windows = CaptureWindow.objects.filter(session=consented_session)
    assert windows.exists()
    assert all(w.status == CaptureWindow.Status.DONE and w.speech_s == 0 for w in windows)


def test_flooding_faster_than_the_rate_limit_closes_with_4429(consented_session, cookie):
    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        code = None
        for seq in range(400):  # 80 s of audio at once: over the 30 s burst allowance
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
        while code is None:
            output = await comm.receive_output(timeout=10)
            if output["type"] == "websocket.close":
                code = output["code"]
        assert code == 4429

    run(scenario)


def test_session_over_the_maximum_length_is_closed(consented_session, cookie):
    with override_settings(CAPTURE={**settings.CAPTURE, "TRANSCRIBE": False, "MAX_SESSION_S": 1.0}):

        async def scenario():
            comm, _ = await _open(consented_session.id, cookie)
            for seq in range(6):
                await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
            assert await _close_code(comm) == 4413

        run(scenario)


def test_paused_session_drops_frames_without_ack_until_resumed(consented_session, cookie):
    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        await comm.send_to(text_data=json.dumps({"type": "pause"}))
        assert (await _next_of_type(comm, "state"))["status"] == "paused"
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=0, pcm=QUIET))
        assert (await _next_of_type(comm, "error"))["code"] == "paused"
        await comm.send_to(text_data=json.dumps({"type": "resume"}))
        assert (await _next_of_type(comm, "state"))["status"] == "recording"
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=0, pcm=QUIET))
        assert (await _next_of_type(comm, "ack"))["seq"] == 0
        await comm.disconnect()

    run(scenario)


def test_reconnect_resumes_after_what_the_server_already_holds(consented_session, cookie):
    async def first():
        comm, _ = await _open(consented_session.id, cookie)
        for seq in range(40):
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
        await _next_of_type(comm, "commit")
        await comm.disconnect()

    async def second():
        comm, welcome = await _open(consented_session.id, cookie)
        await comm.disconnect()
        return welcome

    run(first)
    welcome = run(second)
    last = CaptureWindow.objects.filter(session=consented_session).order_by("-seq_last").first()
    assert welcome["next"]["0"] == last.seq_last + 1
    assert welcome["commit"]["0"] == last.seq_last
    assert CaptureSession.objects.get(id=consented_session.id).commit_0 == last.seq_last


def test_stop_flushes_and_marks_the_session_ending(consented_session, cookie):
    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        for seq in range(3):
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
        await comm.send_to(text_data=json.dumps({"type": "stop"}))
        assert (await _next_of_type(comm, "state"))["status"] == "ending"
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=3, pcm=QUIET))
        assert (await _next_of_type(comm, "error"))["code"] == "ended"
        await comm.disconnect()

    run(scenario)
    windows = list(CaptureWindow.objects.filter(session=consented_session))
    assert [(w.seq_first, w.seq_last) for w in windows] == [(0, 2)]


def test_socket_messages_skip_the_per_message_connection_cleanup_that_connect_keeps(
    consented_session, cookie, monkeypatch
):
    """channels runs close_old_connections() in a thread hop before every message; for 5 frames a second
    per channel that hop was the biggest ingest cost (bench/ingest.py: ack p99 517 ms -> 44 ms at 200
    streams without it). Incoming socket messages skip it (their DB calls go through
    database_sync_to_async, which cleans up around each call); connect and group events keep it."""
    import channels.consumer

    calls = []
    original = channels.consumer.aclose_old_connections

    async def counting():
        calls.append(1)
        return await original()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting)

    async def scenario():
        comm, _ = await _open(consented_session.id, cookie)
        after_hello = len(calls)
        for seq in range(10):
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
            assert (await _next_of_type(comm, "ack"))["seq"] == seq
        after_frames = len(calls)
        await comm.send_to(text_data=json.dumps({"type": "pause"}))
        await _next_of_type(comm, "state")
        after_pause = len(calls)
        await comm.disconnect()
        return after_hello, after_frames, after_pause

    after_hello, after_frames, after_pause = run(scenario)
    assert after_hello >= 1  # the connect went through channels' own dispatch
    assert after_frames == after_hello  # ten frames, no hop
    assert after_pause == after_frames  # control messages are websocket.receive too: no hop either
