"""Resuming after a fault, without the real stack (tests/capture/test_faults.py runs the faults
themselves): what the server asks the browser to resend when Redis lost audio, before or after Stop;
that a lost window holds the recap back; that a repeated Stop asks for the recap again; the requeue
job's threshold; and that the socket closes with 4500 when Redis fails under it."""

import asyncio
import json
from datetime import timedelta
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from capture import audio_store, services
from capture.consumers import CaptureConsumer
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from capture.protocol import encode_frame
from capture.selectors import capture_windows_left
from capture.tasks import requeue_stuck_windows
from recaps.models import Recap
from recaps.services import recap_build
from tests.audio import silence
from tests.capture.conftest import communicator, run

pytestmark = pytest.mark.usefixtures("clean_redis")

Status = CaptureWindow.Status


def _window(session, first, last, *, status=Status.QUEUED, audio=True, channel=0):
    window = CaptureWindow.objects.create(
        session=session,
        channel=channel,
        seq_first=first,
        seq_last=last,
        status=status,
        speech_s=0.0 if status == Status.DONE else 1.0,
    )
    if audio and status == Status.QUEUED:
        audio_store.window_audio_put(window_id=window.id, pcm=b"\x01\x00" * 3200)
    return window


def _ending(session):
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)


@pytest.mark.django_db
def test_resume_point_drops_the_first_window_whose_audio_is_gone_and_every_later_one(consented_session):
    done = _window(consented_session, 0, 9, status=Status.DONE)
    queued = _window(consented_session, 10, 30)
    lost = _window(consented_session, 31, 50, audio=False)  # its audio died with Redis
    later = _window(consented_session, 51, 60, status=Status.DONE)  # transcribed out of order
    TranscriptSegment.objects.create(
        session=consented_session, window=later, index=0, channel=0, start=10.2, end=11, text="later"
    )
    other_channel = _window(consented_session, 0, 60, audio=False, channel=1)

    assert services.capture_resume_point(session_id=consented_session.id, channel=0) == 31

    remaining = set(CaptureWindow.objects.filter(session=consented_session).values_list("id", flat=True))
    assert remaining == {done.id, queued.id, other_channel.id}
    # The later window's text goes too: its audio is resent and transcribed again, once.
    assert not TranscriptSegment.objects.filter(session=consented_session).exists()
    assert audio_store.window_audio_exists(window_id=queued.id)
    assert CaptureSession.objects.get(id=consented_session.id).commit_0 == 9
    assert lost.id not in remaining


@pytest.mark.django_db
def test_resume_point_after_stop_sends_the_session_back_to_recording(consented_session):
    _window(consented_session, 0, 9, status=Status.DONE)
    _window(consented_session, 10, 30, audio=False)
    _ending(consented_session)

    assert services.capture_resume_point(session_id=consented_session.id, channel=0) == 10
    # The recap must wait for the resent audio; the browser sends Stop again after resending.
    assert CaptureSession.objects.get(id=consented_session.id).status == CaptureSession.Status.RECORDING


@pytest.mark.django_db
def test_resume_point_with_all_audio_present_changes_nothing(consented_session):
    _window(consented_session, 0, 9, status=Status.DONE)
    _window(consented_session, 10, 30)
    _ending(consented_session)

    assert services.capture_resume_point(session_id=consented_session.id, channel=0) == 31
    assert CaptureWindow.objects.filter(session=consented_session).count() == 2
    assert CaptureSession.objects.get(id=consented_session.id).status == CaptureSession.Status.ENDING


@pytest.mark.django_db
def test_a_lost_window_is_still_left_and_holds_the_recap_back(consented_session):
    _window(consented_session, 0, 9, status=Status.DONE)
    _window(consented_session, 10, 30, status=Status.LOST, audio=False)
    _ending(consented_session)

    assert capture_windows_left(session_id=consented_session.id) == 1
    assert services.capture_recap_if_ready(session_id=consented_session.id) is False
    assert recap_build(session_id=consented_session.id) is None
    assert not Recap.objects.filter(session=consented_session).exists()


@pytest.mark.django_db
def test_stop_again_while_ending_asks_for_the_recap_again(
    consented_session, django_capture_on_commit_callbacks
):
    """The recap task can die with a Redis restart (persistence off); the browser's Stop after it
    reconnects must ask for it again, or the session would wait forever."""
    _window(consented_session, 0, 9, status=Status.DONE)
    _ending(consented_session)
    with (
        mock.patch("recaps.tasks.recap_build.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        session = services.capture_session_stop(session_id=consented_session.id)
    assert session.status == CaptureSession.Status.ENDING
    delay.assert_called_once_with(str(consented_session.id))


@pytest.mark.django_db
def test_requeue_job_takes_its_age_threshold_from_settings(consented_session):
    old = _window(consented_session, 0, 9)
    _window(consented_session, 10, 19)
    _window(consented_session, 20, 29, status=Status.DONE)
    CaptureWindow.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(seconds=10))
    with (
        override_settings(CAPTURE={**settings.CAPTURE, "REQUEUE_AFTER_S": 5}),
        mock.patch("capture.tasks.transcribe_window.delay") as delay,
    ):
        requeue_stuck_windows()
    delay.assert_called_once_with(str(old.id))  # not the fresh one, nor the done one


# The socket -------------------------------------------------------------------------------------


async def _hello(comm):
    await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": [0]}))
    while True:
        message = json.loads(await comm.receive_from(timeout=5))
        if message["type"] == "welcome":
            return message


async def _close_code(comm, timeout=5):
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe")
def test_a_resend_after_stop_is_taken_and_stop_again_ends_the_session(consented_session, cookie):
    """Redis lost a queued window after Stop: the welcome says recording and asks from the lost
    window; the resent frames are acked and windowed, and the next Stop ends the session again."""
    _window(consented_session, 0, 24, audio=False)
    _ending(consented_session)

    async def scenario():
        comm = communicator(consented_session.id, cookie=cookie)
        await comm.connect()
        welcome = await _hello(comm)
        assert welcome["status"] == "recording"
        assert welcome["next"] == {"0": 0}
        for seq in range(30):
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=silence(0.2)))
        await comm.send_to(text_data=json.dumps({"type": "stop"}))
        acked, status = set(), None
        while status != "ending":
            message = json.loads(await comm.receive_from(timeout=5))
            if message["type"] == "ack":
                acked.add(message["seq"])
            elif message["type"] == "state":
                status = message["status"]
        await comm.disconnect()
        return acked

    acked = run(scenario)
    assert acked == set(range(30))
    windows = list(CaptureWindow.objects.filter(session=consented_session).order_by("seq_first"))
    assert windows[0].seq_first == 0 and windows[-1].seq_last == 29
    assert all(a.seq_first == b.seq_last + 1 for b, a in zip(windows, windows[1:], strict=False))
    assert CaptureSession.objects.get(id=consented_session.id).status == CaptureSession.Status.ENDING


@pytest.mark.django_db(transaction=True)
def test_socket_is_closed_with_4500_once_redis_has_lost_its_key(
    consented_session, cookie, clean_redis, monkeypatch
):
    """A Redis restart that channels_redis reconnects through silently: nothing raises, but the
    socket's group (and queued audio) are gone. The watchdog notices its key is gone."""
    monkeypatch.setattr(CaptureConsumer, "REDIS_CHECK_S", 0.05)

    async def scenario():
        comm = communicator(consented_session.id, cookie=cookie)
        await comm.connect()
        await _hello(comm)
        await asyncio.sleep(0.3)  # several checks pass while the key is there
        keys = clean_redis.keys("uw:sock:*")
        assert len(keys) == 1
        clean_redis.delete(*keys)  # what a restart without persistence does to it
        code = await _close_code(comm)
        await comm.disconnect()
        return code

    assert run(scenario) == 4500


@pytest.mark.django_db(transaction=True)
def test_redis_failing_under_a_handler_closes_with_4500_before_the_error_surfaces(
    consented_session, cookie, monkeypatch
):
    """channels' clean-up after such an error can hang on the broken channel layer (found by the
    redis_restart fault); the close must already be on its way to the browser."""

    def redis_down(**kwargs):
        raise redis.exceptions.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(services, "capture_resume_point", redis_down)

    async def scenario():
        comm = communicator(consented_session.id, cookie=cookie)
        await comm.connect()
        await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": [0]}))
        with pytest.raises(redis.exceptions.ConnectionError):
            await comm.wait(timeout=5)
        outputs = []
        while not comm.output_queue.empty():
            outputs.append(comm.output_queue.get_nowait())
        return outputs

    outputs = run(scenario)
    assert {"type": "websocket.close", "code": 4500} in outputs, outputs


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe")
def test_audio_acked_but_not_yet_windowed_survives_the_page_going_away(consented_session, cookie):
    """A reload or a closed tab takes the browser's copy with it: the frames the server acked but
    still held in memory are queued as a window when the socket closes, and the next page's hello
    continues after them instead of losing 20-odd seconds."""

    async def scenario():
        comm = communicator(consented_session.id, cookie=cookie)
        await comm.connect()
        assert (await _hello(comm))["next"] == {"0": 0}
        for seq in range(40):  # 8 s of speech-free audio: far from closing a window by itself
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=silence(0.2)))
        acked = set()
        while len(acked) < 40:
            message = json.loads(await comm.receive_from(timeout=5))
            if message["type"] == "ack":
                acked.add(message["seq"])
        await comm.disconnect()
        again = communicator(consented_session.id, cookie=cookie)
        await again.connect()
        welcome = await _hello(again)
        await again.disconnect()
        return welcome

    welcome = run(scenario)
    windows = list(CaptureWindow.objects.filter(session=consented_session).order_by("seq_first"))
    assert windows and windows[0].seq_first == 0 and windows[-1].seq_last == 39
    assert all(a.seq_first == b.seq_last + 1 for b, a in zip(windows, windows[1:], strict=False))
    assert welcome["next"] == {"0": 40}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe")
def test_a_socket_taken_over_queues_what_it_acked_and_the_newer_one_continues_after_it(
    consented_session, cookie
):
    """Two tabs: the older socket queues what it acked before it closes, and the newer one waits for
    that, so its `next` continues after the older tab's last seconds instead of writing over them."""

    async def scenario():
        old = communicator(consented_session.id, cookie=cookie)
        await old.connect()
        await _hello(old)
        for seq in range(10):
            await old.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=silence(0.2)))
        for _ in range(10):
            while json.loads(await old.receive_from(timeout=5))["type"] != "ack":
                pass
        new = communicator(consented_session.id, cookie=cookie)
        await new.connect()
        welcome = await _hello(new)
        code = await _close_code(old)
        await new.disconnect()
        return welcome, code

    welcome, code = run(scenario)
    assert code == 4408
    assert welcome["next"] == {"0": 10}
    window = CaptureWindow.objects.get(session=consented_session)
    assert (window.seq_first, window.seq_last) == (0, 9)


def test_a_writer_claim_is_released_and_refreshed_only_by_its_holder(consented_session, redis_client):
    sid = consented_session.id
    services.capture_writer_claim(session_id=sid, channel_name="newer")
    services.capture_writer_release(session_id=sid, channel_name="older")  # a late close of the older
    assert services.capture_writer_holder(session_id=sid) == "newer"
    redis_client.expire(f"uw:writer:{sid}", 5)
    services.capture_sockets_keep_alive([("older", sid)])
    assert redis_client.ttl(f"uw:writer:{sid}") <= 5
    services.capture_socket_canary_put(channel_name="newer")
    # One round trip for every socket: each one's key still there or not, its claim refreshed if it holds it.
    assert services.capture_sockets_keep_alive([("newer", sid), ("gone", None)]) == [True, False]
    assert redis_client.ttl(f"uw:writer:{sid}") > 5
    services.capture_writer_release(session_id=sid, channel_name="newer")
    assert services.capture_writer_holder(session_id=sid) is None


def test_the_browser_backlog_key_lives_only_until_the_recap_and_is_stored_encrypted(consented_session):
    import base64

    from django.db import connection

    sid = consented_session.id
    key = services.capture_backlog_key(session_id=sid)
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert services.capture_backlog_key(session_id=sid) == key  # one key per session
    pk = CaptureSession._meta.pk.get_db_prep_value(sid, connection)  # the uuid as this database stores it
    with connection.cursor() as cursor:
        cursor.execute("SELECT backlog_key FROM capture_capturesession WHERE id = %s", [pk])
        (stored,) = cursor.fetchone()
    assert stored and key not in stored  # at rest it is a Fernet token, not the key

    CaptureSession.objects.filter(id=sid).update(status=CaptureSession.Status.ENDING)
    assert services.session_handoff(session_id=sid, build=lambda session, rows, heard: "recap") == "recap"
    assert CaptureSession.objects.get(id=sid).backlog_key is None
    assert services.capture_backlog_key(session_id=sid) is None  # done: a page has nothing to keep
