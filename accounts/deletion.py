"""Deleting an account deletes everything the person ever left here: recaps (and their schedules,
notes, next-step marks), after-session notes, remembered consent answers, capture sessions, windows,
transcript segments, audio still in Redis, linked devices, notifications, pairing requests they
approved, the recap audit trail and every login session. Most of it follows from ON DELETE CASCADE;
what does not (Redis, django_session) is done by hand, and the rest is deleted explicitly too so the
list above is visible in one place: each app's part is in its own deletion.py (capture/deletion.py,
recaps/deletion.py), registered here."""

from collections.abc import Callable

from django import forms
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction

from undertone_web.db import database_wal_truncate


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


# Each app deletes its own data (docs/architecture.md: accounts sits at the bottom and imports no
# app). A deleter runs inside the deletion's transaction and may return a clean-up to run after the
# commit (Redis holds no transactions). Apps register in their AppConfig.ready(); deleters run in the
# reverse order, so the apps above (a recap points at its capture session) go first.
AccountDataDeleter = Callable[[User], Callable[[], None] | None]
_deleters: list[AccountDataDeleter] = []


def register_account_data(deleter: AccountDataDeleter) -> AccountDataDeleter:
    if deleter not in _deleters:
        _deleters.append(deleter)
    return deleter


def account_delete(*, user: User) -> None:
    from .models import Notification

    user_id = str(user.pk)
    after_commit: list[Callable[[], None]] = []
    with transaction.atomic():
        for deleter in reversed(_deleters):
            cleanup = deleter(user)
            if cleanup is not None:
                after_commit.append(cleanup)
        Notification.objects.filter(user=user).delete()
        # Sessions store the user id only inside their signed payload, so each one is decoded; expired
        # ones too, so no row anywhere still names this person.
        stale = [s.pk for s in Session.objects.iterator() if s.get_decoded().get("_auth_user_id") == user_id]
        Session.objects.filter(pk__in=stale).delete()
        user.delete()
    for cleanup in after_commit:
        cleanup()
    database_wal_truncate()  # the deleted rows' old pages would otherwise linger in SQLite's -wal
