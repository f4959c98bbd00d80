"""Capture's part of deleting an account (accounts/deletion.py): sessions, windows, the short-lived
transcript, remembered consent answers, linked devices, approved pairing requests, and the window
audio still in Redis (after the commit)."""

from collections.abc import Callable

from django.contrib.auth.models import User

from . import audio_store
from .models import (
    CaptureSession,
    CaptureWindow,
    ConsentPreference,
    LinkedDevice,
    PairingRequest,
    TranscriptSegment,
)


def account_data_delete(user: User) -> Callable[[], None]:
    window_ids = list(CaptureWindow.objects.filter(session__user=user).values_list("id", flat=True))
    TranscriptSegment.objects.filter(session__user=user).delete()
    CaptureWindow.objects.filter(session__user=user).delete()
    CaptureSession.objects.filter(user=user).delete()
    ConsentPreference.objects.filter(user=user).delete()
    LinkedDevice.objects.filter(user=user).delete()
    PairingRequest.objects.filter(approved_by=user).delete()
    # Audio of unfinished windows lives only in Redis (no persistence): dropped after the commit.
    return lambda: audio_store.window_audio_delete(window_ids=window_ids)
