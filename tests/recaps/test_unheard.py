"""A recording with one silent side says so: the recap keeps per-channel counts (seconds recorded and
of speech, no content) and the page says what it could not hear."""

import pytest
from django.test import Client

from capture import services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from recaps import services as recap_services
from recaps.view_models import unheard_channel
from tests.factories import consent_record


def _two_channels(user, *, call_speech_s: float):
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    mic = CaptureWindow.objects.create(
        session=session, channel=0, seq_first=0, seq_last=599, speech_s=70.0, status=CaptureWindow.Status.DONE
    )
    TranscriptSegment.objects.create(
        session=session,
        window=mic,
        index=0,
        channel=0,
        start=1,
        end=4,
        text="I want to sleep earlier this week.",
    )
    CaptureWindow.objects.create(
        session=session,
        channel=1,
        seq_first=0,
        seq_last=599,
        speech_s=call_speech_s,
        status=CaptureWindow.Status.DONE,
    )
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    return session


@pytest.mark.django_db
def test_a_silent_call_channel_is_said_on_the_recap(user, clean_redis):
    recap = recap_services.recap_build(session_id=_two_channels(user, call_speech_s=0.0).id)
    assert recap.data["stats"]["channels"] == {
        "0": {"recorded_s": 120.0, "speech_s": 70.0},
        "1": {"recorded_s": 120.0, "speech_s": 0.0},
    }
    client = Client()
    client.force_login(user)
    body = client.get(f"/recaps/{recap.id}/").content.decode()
    assert "The call audio was silent for 2 min, so this recap has only your side." in body


@pytest.mark.django_db
def test_a_call_channel_that_spoke_says_nothing_of_the_sort(user, clean_redis):
    recap = recap_services.recap_build(session_id=_two_channels(user, call_speech_s=45.0).id)
    client = Client()
    client.force_login(user)
    assert "was silent for" not in client.get(f"/recaps/{recap.id}/").content.decode()


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ({"0": {"recorded_s": 300, "speech_s": 200}}, None),  # microphone only: no call expected
        ({"0": {"recorded_s": 300, "speech_s": 200}, "1": {"recorded_s": 300, "speech_s": 150}}, None),
        (
            {"0": {"recorded_s": 300, "speech_s": 0}, "1": {"recorded_s": 300, "speech_s": 150}},
            ("microphone", 300.0),
        ),
        (
            {"0": {"recorded_s": 20, "speech_s": 15}, "1": {"recorded_s": 20, "speech_s": 0}},
            None,
        ),  # too short
        ({}, None),  # a recap from before the counts were kept
    ],
)
def test_which_side_was_unheard(channels, expected):
    assert unheard_channel({"stats": {"channels": channels}}) == expected
