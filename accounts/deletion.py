"""Deleting an account deletes everything the person ever left here: recaps (and their schedules,
notes, next-step marks), after-session notes, remembered consent answers, capture sessions, windows,
transcript segments, audio still in Redis, linked devices, notifications, pairing requests they
approved, the recap audit trail and every login session. Most of it follows from ON DELETE CASCADE;
what does not (Redis, django_session) is done by hand, and the rest is deleted explicitly too so the
list above is visible in one place."""

from django import forms
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That password is not right.")
        return password


def account_delete(*, user: User) -> None:
    from accounts.models import Notification
    from capture import audio_store
    from capture.models import CaptureSession, CaptureWindow, ConsentPreference, LinkedDevice, PairingRequest
    from recaps.models import AfterNote, ClientSettings, Recap, RecapAccess, TranscriptSegment
    from recaps.services import database_wal_truncate

    user_id = str(user.pk)
    window_ids = list(CaptureWindow.objects.filter(session__user=user).values_list("id", flat=True))
    with transaction.atomic():
        TranscriptSegment.objects.filter(session__user=user).delete()
        CaptureWindow.objects.filter(session__user=user).delete()
        Recap.objects.filter(user=user).delete()
        CaptureSession.objects.filter(user=user).delete()
        RecapAccess.objects.filter(user=user).delete()
        ClientSettings.objects.filter(user=user).delete()
        AfterNote.objects.filter(user=user).delete()
        ConsentPreference.objects.filter(user=user).delete()
        LinkedDevice.objects.filter(user=user).delete()
        PairingRequest.objects.filter(approved_by=user).delete()
        Notification.objects.filter(user=user).delete()
        # Sessions store the user id only inside their signed payload, so each one is decoded; expired
        # ones too, so no row anywhere still names this person.
        stale = [s.pk for s in Session.objects.iterator() if s.get_decoded().get("_auth_user_id") == user_id]
        Session.objects.filter(pk__in=stale).delete()
        user.delete()
    # Audio of unfinished windows lives only in Redis (no persistence); drop it after the commit.
    audio_store.window_audio_delete(window_ids=window_ids)
    database_wal_truncate()  # the deleted rows' old pages would otherwise linger in SQLite's -wal
