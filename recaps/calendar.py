"""The private calendar feed: an ICS URL the person subscribes to in Google, Apple or Outlook Calendar,
holding their next appointments ("Therapy") and when each Pre-Session Brief opens ("Therapy · your brief
is ready"). Nothing from any recap is in it: the events are built from ClientSettings alone.

The URL's secret is 256 random bits; only its sha256 is stored (as capture/pairing does for its QR
tokens), so the URL is shown once, when it is made, and a copy of the database cannot be used to read
anyone's calendar. Storing it encrypted instead would let the page show it again, but every encrypted
column joins the key rotation (recaps.services.ENCRYPTED_COLUMNS), and a calendar app keeps its own copy
anyway. A reset makes a new secret, so the old URL answers 404 from then on; so does "turn off"."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from .models import ClientSettings, ReminderSettings
from .selectors import brief_for_user, next_weekly

TOKEN_BYTES = 32
PRODID = "-//Undertone//Private calendar//EN"
# The length of a session is not asked anywhere; the common therapy hour.
APPOINTMENT_LENGTH = timedelta(minutes=50)
BRIEF_LENGTH = timedelta(minutes=15)
# A one-off appointment stays in the feed this long after it started, so today's does not vanish.
KEEP_PAST = timedelta(days=1)
# Calendar apps ask again this often (Google mostly decides for itself).
REFRESH = timedelta(hours=1)
# The last fetch is written at most this often, so a polling calendar does not write on every request.
TOUCH_EVERY = timedelta(minutes=10)
SUMMARY_APPOINTMENT = "Therapy"
SUMMARY_BRIEF = "Therapy · your brief is ready"


def feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_url(token: str, *, request=None) -> str:
    """The address to subscribe to: on the host the person is using when there is a request (right
    behind a proxy too), else on SITE_URL."""
    path = reverse("recaps:calendar_feed", args=[token])
    return request.build_absolute_uri(path) if request is not None else settings.SITE_URL + path


def calendar_feed_create(*, user) -> str:
    """Make (or remake: a reset) the feed's secret and return it, the only time it exists in clear.
    The previous secret, if any, stops working in the same write."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    ReminderSettings.objects.update_or_create(
        user=user,
        defaults={
            "calendar_token_hash": feed_hash(token),
            "calendar_created_at": timezone.now(),
            "calendar_fetched_at": None,
        },
    )
    return token


def calendar_feed_off(*, user) -> None:
    ReminderSettings.objects.filter(user=user).update(
        calendar_token_hash=None,
        calendar_created_at=None,
        calendar_fetched_at=None,
        updated_at=timezone.now(),
    )


def calendar_feed_for_token(token: str) -> ReminderSettings | None:
    """The feed's owner settings, or None for an unknown, reset or turned-off secret."""
    if not token or len(token) > 100:
        return None
    wanted = feed_hash(token)
    prefs = ReminderSettings.objects.select_related("user").filter(calendar_token_hash=wanted).first()
    if (
        prefs is None
        or not prefs.user.is_active
        or not hmac.compare_digest(prefs.calendar_token_hash, wanted)
    ):
        return None
    return prefs


def calendar_feed_touch(*, prefs: ReminderSettings, now: datetime | None = None) -> None:
    """Remember when a calendar last asked, so the settings page can say the subscription works."""
    now = now or timezone.now()
    if prefs.calendar_fetched_at is None or now - prefs.calendar_fetched_at >= TOUCH_EVERY:
        ReminderSettings.objects.filter(pk=prefs.pk).update(calendar_fetched_at=now)


def _uid(prefs: ReminderSettings, what: str) -> str:
    # Stable per feed (a calendar updates the event rather than adding a copy), different after a reset,
    # and not the user's id.
    digest = hashlib.sha256(f"{prefs.calendar_token_hash}:{what}".encode()).hexdigest()[:32]
    return f"{digest}@undertone"


def _event(
    *, uid: str, summary: str, start: datetime, length: timedelta, stamp: datetime, busy: bool, url=""
):
    event = icalendar.Event.new(
        uid=uid,
        summary=summary,
        start=start,
        end=start + length,
        stamp=stamp,
        url=url or None,
        transparency="OPAQUE" if busy else "TRANSPARENT",
    )
    event.add("class", "PRIVATE")
    return event


def calendar_ics(*, prefs: ReminderSettings, now: datetime | None = None) -> bytes:
    """The feed, RFC 5545. Times are in the site's zone (TIME_ZONE, the zone ClientSettings is entered
    in) with a VTIMEZONE, so a weekly slot keeps its local time across daylight saving changes."""
    now = now or timezone.now()
    user = prefs.user
    zone = ZoneInfo(settings.TIME_ZONE)
    cal = icalendar.Calendar.new(
        prodid=PRODID, name="Undertone", refresh_interval=REFRESH, uid=_uid(prefs, "calendar")
    )
    # Outlook's and Apple's older name for the refresh interval.
    cal.add("x-published-ttl", icalendar.vDuration(REFRESH))
    cal.add("method", "PUBLISH")
    appointments = ClientSettings.objects.filter(user=user).first()
    if appointments is None:
        return cal.to_ical()
    stamp = appointments.updated_at.astimezone(zone)
    # The brief opens this long before an appointment: read from the brief's own rule, not restated here.
    brief = brief_for_user(user=user, now=now, with_content=False)
    lead = timedelta(hours=brief.hours_before)
    brief_url = settings.SITE_URL + reverse("recaps:brief")
    weekly = appointments.weekly_weekday is not None and appointments.weekly_time is not None
    if weekly:
        start = next_weekly(now=now, weekday=appointments.weekly_weekday, at=appointments.weekly_time)
        start = start.astimezone(zone)
        for what, summary, at, length, busy, url in (
            ("weekly", SUMMARY_APPOINTMENT, start, APPOINTMENT_LENGTH, True, ""),
            ("weekly-brief", SUMMARY_BRIEF, start - lead, BRIEF_LENGTH, False, brief_url),
        ):
            event = _event(
                uid=_uid(prefs, what),
                summary=summary,
                start=at,
                length=length,
                stamp=stamp,
                busy=busy,
                url=url,
            )
            event.add("rrule", {"freq": "weekly"})
            cal.add_component(event)
    once = appointments.next_appointment
    if once and once > now - KEEP_PAST and not (weekly and _on_weekly_slot(once, appointments, zone)):
        once = once.astimezone(zone)
        cal.add_component(
            _event(
                uid=_uid(prefs, f"once-{once:%Y%m%dT%H%M}"),
                summary=SUMMARY_APPOINTMENT,
                start=once,
                length=APPOINTMENT_LENGTH,
                stamp=stamp,
                busy=True,
            )
        )
        cal.add_component(
            _event(
                uid=_uid(prefs, f"once-brief-{once:%Y%m%dT%H%M}"),
                summary=SUMMARY_BRIEF,
                start=once - lead,
                length=BRIEF_LENGTH,
                stamp=stamp,
                busy=False,
                url=brief_url,
            )
        )
    cal.add_missing_timezones()
    return cal.to_ical()


def _on_weekly_slot(when: datetime, appointments: ClientSettings, zone: ZoneInfo) -> bool:
    """A one-off date that is also an occurrence of the weekly slot is shown once, in the series."""
    local = when.astimezone(zone)
    return local.weekday() == appointments.weekly_weekday and local.time() == appointments.weekly_time
