"""Recap in your own voice (CaptureSession.Mode.SELF): the entry page and its own-voice confirmation,
the microphone-only record page, and the socket's own enforcement (no call audio, a short cap that
stops the session cleanly so the recap is still made), through the real ASGI stack."""

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from capture import services
from capture.consent.services import consent_record_save, self_session_start
from capture.models import CaptureSession, CaptureWindow, LinkedDevice, TranscriptSegment
from capture.pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from capture.protocol import encode_frame
from recaps.models import Recap
from recaps.services import recap_build
from tests.audio import silence
from tests.capture.conftest import communicator, run
from tests.factories import PASSWORD

QUIET = silence(0.2)


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


async def _open(session_id, cookie, *, channels=(0,)):
    comm = communicator(session_id, cookie=cookie)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": list(channels)}))
    return comm


async def _next_of_type(comm, kind, timeout=5):
    while True:
        message = json.loads(await comm.receive_from(timeout=timeout))
        if message["type"] == kind:
            return message


@pytest.fixture
def self_session(user):
    return self_session_start(user=user)


# Entry and pages -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_self_start_needs_the_own_voice_confirmation_then_opens_the_record_page(client, user):
    login(client, user)
    page = client.get(reverse("capture:self_start"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Only my voice, recorded after the session. No one else is recorded." in body
    assert "up to 5 minutes" in body

    refused = client.post(reverse("capture:self_start"), {})
    assert refused.status_code == 200
    assert "say it&#x27;s only your voice" in refused.content.decode()
    assert not CaptureSession.objects.exists()  # nothing is made until it is confirmed

    done = client.post(reverse("capture:self_start"), {"own_voice_only": "on"})
    session = CaptureSession.objects.get(user=user)
    assert done.status_code == 302 and done["Location"] == reverse("capture:session", args=[session.id])
    assert session.mode == CaptureSession.Mode.SELF
    assert session.status == CaptureSession.Status.RECORDING and session.consent_at is not None
    assert session.consent["mode"] == "self" and session.consent["own_voice_only"] is True
    assert "therapist_agreed" not in session.consent
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*", session.consent["confirmed_at"])


@pytest.mark.django_db
def test_entry_links_on_start_and_home(client, user):
    login(client, user)
    url = reverse("capture:self_start")
    assert f'href="{url}"' in client.get(reverse("capture:start")).content.decode()
    home = client.get("/").content.decode()
    assert f'href="{url}"' in home and f'href="{reverse("recaps:after_note_new")}"' in home


@pytest.mark.django_db
def test_self_record_page_is_microphone_only_with_prompts_and_a_countdown(client, user, self_session):
    login(client, user)
    body = client.get(reverse("capture:session", args=[self_session.id])).content.decode()
    assert 'data-mode="self"' in body and 'data-max-seconds="300"' in body
    assert "Start talking" in body and ">5:00<" in body
    for prompt in ("What came up in the session?", "What do you want to practise this week?"):
        assert escape(prompt) in body
    # No source choice and no call-audio channel: nothing can ask for the tab's sound.
    assert 'id="source-tab"' not in body and 'id="channel-1"' not in body
    assert f'href="{reverse("recaps:after_note_new")}"' in body  # offered once the recap is ready


@pytest.mark.django_db
def test_therapy_session_page_is_unchanged(client, user):
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent={"therapist_agreed": True})
    body = login(client, user).get(reverse("capture:session", args=[session.id])).content.decode()
    assert 'data-mode="session"' in body and "data-max-seconds" not in body
    assert 'id="source-tab"' in body and 'id="channel-1"' in body and "Start recording" in body


@pytest.mark.django_db
def test_another_persons_self_session_is_not_found(client, other_user, self_session):
    login(client, other_user)
    assert client.get(reverse("capture:session", args=[self_session.id])).status_code == 404


# The socket enforces self mode -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe", "clean_redis")
def test_self_session_socket_refuses_call_audio(self_session, cookie):
    async def scenario():
        comm = await _open(self_session.id, cookie, channels=(0, 1))
        refused = json.loads(await comm.receive_from(timeout=5))
        assert (refused["type"], refused["code"]) == ("error", "mic_only")
        await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": [0]}))
        welcome = await _next_of_type(comm, "welcome")
        assert welcome["next"] == {"0": 0}
        await comm.send_to(bytes_data=encode_frame(channel=1, seq=0, pcm=QUIET))
        error = json.loads(await comm.receive_from(timeout=5))
        assert (error["type"], error["code"]) == ("error", "mic_only")  # not acked, not kept
        await comm.send_to(bytes_data=encode_frame(channel=0, seq=0, pcm=QUIET))
        assert await _next_of_type(comm, "ack") == {"type": "ack", "ch": 0, "seq": 0}
        await comm.disconnect()

    run(scenario)
    assert not CaptureWindow.objects.filter(session=self_session, channel=1).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("clean_redis")
def test_self_session_past_the_cap_stops_cleanly_and_the_recap_is_still_made(
    self_session, cookie, no_transcribe
):
    capture = {**settings.CAPTURE, "TRANSCRIBE": False, "MAX_SELF_S": 1.0, "SELF_GRACE_S": 1.0}
    with override_settings(CAPTURE=capture):
        cap = services.capture_session_max_frames(mode=CaptureSession.Mode.SELF)
        assert cap == 10  # (1 s + 1 s grace) / 0.2 s
        assert services.capture_session_max_frames() == int(settings.CAPTURE["MAX_SESSION_S"] / 0.2)

        async def scenario():
            comm = await _open(self_session.id, cookie)
            await _next_of_type(comm, "welcome")
            for seq in range(cap):
                await comm.send_to(bytes_data=encode_frame(channel=0, seq=seq, pcm=QUIET))
                assert (await _next_of_type(comm, "ack"))["seq"] == seq
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=cap, pcm=QUIET))
            messages = []
            while not any(m["type"] == "state" for m in messages):
                messages.append(json.loads(await comm.receive_from(timeout=5)))
            assert messages[-1] == {"type": "state", "status": "ending"}
            assert {"type": "error", "code": "self_limit"}.items() <= messages[0].items(), messages
            assert not [m for m in messages if m["type"] == "ack"]  # the frame past the cap is not taken
            # The socket stays open (no 4413 close): the page waits on it for its recap.
            await comm.send_to(bytes_data=encode_frame(channel=0, seq=cap, pcm=QUIET))
            assert (await _next_of_type(comm, "error"))["code"] == "ended"
            await comm.disconnect()

        run(scenario)

    session = CaptureSession.objects.get(id=self_session.id)
    assert session.status == CaptureSession.Status.ENDING and session.stopped_at is not None
    windows = list(CaptureWindow.objects.filter(session=session).order_by("seq_first"))
    assert windows[0].seq_first == 0 and windows[-1].seq_last == cap - 1  # everything up to the cap
    assert no_transcribe == [str(session.id)]  # the recap was asked for once
    recap = recap_build(session_id=session.id)
    assert recap is not None and recap.kind == Recap.Kind.SELF and recap.is_self
    assert CaptureSession.objects.get(id=session.id).status == CaptureSession.Status.DONE


# The recap -------------------------------------------------------------------------------------------

OWN_VOICE = [
    (0.0, 9.0, "So the session today was mostly about my sister and how tense the visits have been."),
    (9.5, 18.0, "I realised that I always say yes to her plans because I'm afraid she'll be upset."),
    (18.5, 27.0, "This week I want to practise telling her I need to check my calendar first."),
    (27.5, 36.0, "Next time I want to bring back the question of why the guilt shows up so fast."),
]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.django_db
def test_self_recap_is_marked_and_speaks_only_of_the_person(client, user, self_session):
    window = CaptureWindow.objects.create(
        session=self_session, channel=0, seq_first=0, seq_last=180, status=CaptureWindow.Status.DONE
    )
    for i, (start, end, text) in enumerate(OWN_VOICE):
        TranscriptSegment.objects.create(
            session=self_session, window=window, index=i, channel=0, start=start, end=end, text=text
        )
    services.capture_session_stop(session_id=self_session.id)
    recap = recap_build(session_id=self_session.id)
    assert recap.kind == Recap.Kind.SELF and recap.session_id == self_session.id
    data = Recap.objects.get(id=recap.id).data
    assert data["summary"] and data["next_steps"]
    said = " ".join(_strings(data)).casefold()
    assert "sister" in said and "calendar" in said
    assert "therapist" not in said  # nobody else spoke: nothing may be put in a therapist's mouth
    assert not TranscriptSegment.objects.exists() and not CaptureWindow.objects.exists()

    login(client, user)
    detail = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    assert 'id="self-badge"' in detail and "Recap in your own voice" in detail
    listing = client.get(reverse("recaps:list")).content.decode()
    assert "Recap in your own voice" in listing
    export = client.get(reverse("recaps:export", args=[recap.id])).content.decode()
    assert export.startswith(f"# {recap.label} · Recap in your own voice\n")


@pytest.mark.django_db
def test_capture_scoped_laptop_can_record_a_self_recap_but_is_not_offered_notes(user):
    device = LinkedDevice.objects.create(
        user=user, name="Laptop", expires_at=timezone.now() + timedelta(hours=1)
    )
    laptop = login(Client(), user)
    session = laptop.session
    session[CAPTURE_DEVICE_SESSION_KEY] = str(device.id)
    session.save()
    assert laptop.get(reverse("capture:self_start")).status_code == 200
    response = laptop.post(reverse("capture:self_start"), {"own_voice_only": "on"})
    made = CaptureSession.objects.get(user=user)
    assert response["Location"] == reverse("capture:session", args=[made.id]) and made.device_id == device.id
    body = laptop.get(response["Location"]).content.decode()
    assert 'data-mode="self"' in body and 'id="note-offer"' not in body
    assert laptop.get(reverse("recaps:after_note_new")).status_code == 403  # notes are content
