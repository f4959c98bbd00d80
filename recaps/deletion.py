"""Recaps' part of deleting an account (accounts/deletion.py): recaps (with their schedules, notes and
next-step marks, by cascade), after-session notes, settings and the recap audit trail."""

from django.contrib.auth.models import User

from .models import AfterNote, ClientSettings, Recap, RecapAccess


def account_data_delete(user: User) -> None:
    Recap.objects.filter(user=user).delete()
    RecapAccess.objects.filter(user=user).delete()
    ClientSettings.objects.filter(user=user).delete()
    AfterNote.objects.filter(user=user).delete()
