"""Reminder emails between sessions: "a moment is waiting" on a Moment's day and "your Pre-Session Brief
is ready" when it unlocks. Each is opt-in (ReminderSettings, off by default) and content-free: an email
says THAT something is ready, never what (no theme, quote, title or therapist), so a shared inbox or a
mail provider learns nothing from it. Each has an off link that works without signing in.

The beat job (recaps.tasks.reminders_send, every 10 minutes) is idempotent and at-most-once: a
ReminderSent row, unique per (user, kind, key), is committed BEFORE the email is handed to the mail
server. A crash between the two loses that one reminder; the other order (send, then record) would
send it again on every run until the record is written, and a repeated "something is waiting" is worse
than a missing one (the home screen shows the moment anyway). It is rate-limited per person per day
and per run (settings.REMINDERS). Logs carry counts and user ids, never an address or content."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail, signing
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import MomentSchedule, ReminderSent, ReminderSettings
from .selectors import brief_for_user

log = logging.getLogger(__name__)
Kind = ReminderSent.Kind

SUBJECTS = {
    Kind.MOMENT: "A moment from your last session is waiting",
    Kind.BRIEF: "Your Pre-Session Brief is ready",
}
# The ReminderSettings switch behind each kind of email.
FIELDS = {Kind.MOMENT: "email_moments", Kind.BRIEF: "email_brief"}
# Rows older than this are deleted by the job: their keys (a day, a past appointment) never come back.
KEEP_SENT = timedelta(days=60)
# Signed, not stored: the off link must work from any old email, without signing in. The salt keeps
# these signatures from being valid anywhere else that signs with SECRET_KEY.
OFF_SALT = "recaps.reminders.off"


# Settings ---------------------------------------------------------------------------------------------


def reminder_settings_for_user(*, user) -> ReminderSettings:
    """The person's reminder settings; unsaved defaults (everything off) when they never chose."""
    return ReminderSettings.objects.filter(user=user).first() or ReminderSettings(user=user)


def reminder_settings_save(*, user, email_moments: bool, email_brief: bool) -> ReminderSettings:
    obj, _ = ReminderSettings.objects.update_or_create(
        user=user, defaults={"email_moments": email_moments, "email_brief": email_brief}
    )
    return obj


def reminder_email_change(*, user: User, email: str) -> None:
    """Reminders go to the account's own address (User.email); an empty one stops them all."""
    user.email = email.strip()
    user.save(update_fields=["email"])


# The off link ----------------------------------------------------------------------------------------


def off_token(*, user_id: int, kind: str) -> str:
    return signing.Signer(salt=OFF_SALT).sign_object({"u": user_id, "k": kind})


def off_token_read(token: str) -> tuple[int, str] | None:
    """(user id, kind) from a genuine off link; None for anything tampered with or made up."""
    try:
        data = signing.Signer(salt=OFF_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or data.get("k") not in FIELDS:
        return None
    return data["u"], data["k"]


def reminder_off(*, user_id: int, kind: str) -> None:
    """Idempotent: turning off what is off (or an account that is gone) changes nothing."""
    ReminderSettings.objects.filter(user_id=user_id).update(
        **{FIELDS[kind]: False}, updated_at=timezone.now()
    )


def off_url(*, user_id: int, kind: str) -> str:
    return settings.SITE_URL + reverse("recaps:reminder_off", args=[off_token(user_id=user_id, kind=kind)])


# The email --------------------------------------------------------------------------------------------


def reminder_message(*, user: User, kind: str, connection=None) -> mail.EmailMessage:
    """The email for one reminder. It takes no recap on purpose: there is nothing to leak."""
    unsubscribe = off_url(user_id=user.pk, kind=kind)
    context = {
        "open_url": settings.SITE_URL + ("/" if kind == Kind.MOMENT else reverse("recaps:brief")),
        "off_url": unsubscribe,
        "settings_url": settings.SITE_URL + reverse("recaps:settings"),
    }
    return mail.EmailMessage(
        subject=SUBJECTS[kind],
        body=render_to_string(f"email/reminder_{kind}.txt", context).strip() + "\n",
        to=[user.email],
        connection=connection,
        headers={
            # RFC 2369: mail clients show an "Unsubscribe" button that opens the confirm page. (RFC 8058
            # one-click would need a CSRF-exempt POST; see the note in recaps/settings_views.py.)
            "List-Unsubscribe": f"<{unsubscribe}>",
            "Auto-Submitted": "auto-generated",  # RFC 3834: no out-of-office replies to this
        },
    )


# The job ----------------------------------------------------------------------------------------------


@dataclass
class Due:
    user: User
    kind: str
    key: str


@dataclass
class RunCounts:
    sent: int = 0
    capped: int = 0  # over the person's daily limit
    deferred: int = 0  # over this run's limit: the next run sends them
    failed: int = 0  # handed over but refused; recorded, so not tried again


def _recipients():
    return User.objects.filter(is_active=True).exclude(email="")


def reminders_due(*, now: datetime) -> list[Due]:
    """What should go out now, before the daily limits: briefs first (they are for a given time)."""
    due: list[Due] = []
    for prefs in ReminderSettings.objects.filter(email_brief=True, user__in=_recipients()).select_related(
        "user"
    ):
        brief = brief_for_user(user=prefs.user, now=now, with_content=False)  # the brief's own unlock rule
        if brief.unlocked:
            due.append(Due(prefs.user, Kind.BRIEF, f"{brief.appointment.astimezone(UTC):%Y-%m-%dT%H:%MZ}"))
    # "On a Moment's day": one surfaced today (local date) and is still unseen. Keyed by the day, so one
    # moment email a day at most, and a moment of yesterday evening is not announced again after midnight.
    today = timezone.localdate(now)
    day_start = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    within = now - timedelta(hours=settings.REMINDERS["MOMENT_WITHIN_H"])
    user_ids = (
        MomentSchedule.objects.filter(
            recap__user__reminder_settings__email_moments=True,
            recap__user__in=_recipients(),
            seen_at__isnull=True,
            surface_at__lte=now,
            surface_at__gte=max(day_start, within),
        )
        .values_list("recap__user_id", flat=True)
        .distinct()
    )
    for user in User.objects.filter(id__in=list(user_ids)).order_by("id"):
        due.append(Due(user, Kind.MOMENT, today.isoformat()))
    return due


def _already_sent(item: Due) -> bool:
    return ReminderSent.objects.filter(user=item.user, kind=item.kind, key=item.key).exists()


def _sent_in_last_day(user: User, now: datetime) -> int:
    return ReminderSent.objects.filter(user=user, sent_at__gt=now - timedelta(days=1)).count()


def _claim(item: Due, now: datetime) -> bool:
    """Record the reminder as sent, committed, before it is sent (at-most-once; see the module doc).
    False when a row is already there: another run got it first."""
    try:
        with transaction.atomic():
            ReminderSent.objects.create(user=item.user, kind=item.kind, key=item.key, sent_at=now)
    except IntegrityError:
        return False
    return True


def reminders_send(*, now: datetime | None = None) -> RunCounts:
    now = now or timezone.now()
    counts = RunCounts()
    ReminderSent.objects.filter(sent_at__lt=now - KEEP_SENT).delete()
    due = [item for item in reminders_due(now=now) if not _already_sent(item)]
    if not due:
        return counts
    per_user = settings.REMINDERS["EMAILS_PER_USER_PER_DAY"]
    per_run = settings.REMINDERS["EMAILS_PER_RUN"]
    connection = mail.get_connection()
    try:
        # Open the connection before anything is recorded: a mail server that is down costs no reminder,
        # they all wait for the next run.
        connection.open()
    except (OSError, smtplib.SMTPException):
        log.warning("reminders: the mail server is unreachable; %d wait for the next run", len(due))
        return counts
    try:
        for item in due:
            if counts.sent + counts.failed >= per_run or counts.failed:
                # Over this run's limit, or the server just failed us: the rest are not claimed, so the
                # next run sends them. One failure costs at most one reminder, not the whole queue.
                counts.deferred += 1
                continue
            if _sent_in_last_day(item.user, now) >= per_user:
                counts.capped += 1
                continue
            if not _claim(item, now):
                continue
            try:
                reminder_message(user=item.user, kind=item.kind, connection=connection).send()
                counts.sent += 1
            except (OSError, smtplib.SMTPException) as exc:
                # Maybe delivered, maybe not: the server may have taken it before failing. At most once.
                counts.failed += 1
                log.warning(
                    "reminders: %s reminder for user %s not confirmed (%s)",
                    item.kind,
                    item.user.pk,
                    type(exc).__name__,
                )
    finally:
        connection.close()
    log.info(
        "reminders: %d sent, %d over the daily limit, %d left for the next run, %d failed",
        counts.sent,
        counts.capped,
        counts.deferred,
        counts.failed,
    )
    return counts
