"""The private calendar feed (recaps/calendar.py): RFC 5545 that a real parser reads, the appointments
and the brief's opening at the right times, nothing from any recap, only the owner's events, and a
secret that a reset or "off" kills (404, the same as a token nobody has)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recaps import calendar
from recaps.models import ReminderSettings
from recaps.selectors import next_weekly
from recaps.services import client_settings_save
from tests.recaps.test_reminders import planted_recap, recap_words, words

pytestmark = pytest.mark.django_db


def feed(token: str, client: Client | None = None):
    return (client or Client()).get(reverse("recaps:calendar_feed", args=[token]))


def parsed(response) -> icalendar.Calendar:
    assert response.status_code == 200
    return icalendar.Calendar.from_ical(response.content)


def events(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    found = {}
    for event in cal.walk("VEVENT"):
        assert event["UID"] and event["DTSTAMP"] and event["DTSTART"] and event["DTEND"]
        found.setdefault(str(event["SUMMARY"]), []).append(event)
    return found


def weekly(user, *, weekday=2, at=time(15, 0), hours=24):
    client_settings_save(
        user=user, next_appointment=None, weekly_weekday=weekday, weekly_time=at, brief_hours_before=hours
    )


def test_a_weekly_slot_is_a_weekly_series_with_the_brief_before_it_and_nothing_else(
    user, other_user, settings
):
    settings.TIME_ZONE = "Europe/Berlin"  # a zone with daylight saving: the VTIMEZONE must come along
    settings.SITE_URL = "https://undertone.example"
    recap = planted_recap(user)
    weekly(user, hours=24)
    token = calendar.calendar_feed_create(user=user)
    response = feed(token)
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    cal = parsed(response)
    assert cal["VERSION"] == "2.0" and "Undertone" in str(cal["PRODID"])
    assert (
        b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in response.content
        or b"REFRESH-INTERVAL:PT1H" in response.content
    )
    assert b"X-PUBLISHED-TTL:PT1H" in response.content and b"METHOD:PUBLISH" in response.content
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    found = events(cal)
    assert sorted(found) == ["Therapy", "Therapy · your brief is ready"]
    therapy, brief = found["Therapy"][0], found["Therapy · your brief is ready"][0]
    expected = next_weekly(now=timezone.now(), weekday=2, at=time(15, 0))
    start = therapy.decoded("DTSTART")
    assert start == expected and start.tzinfo.key == "Europe/Berlin"
    assert start.astimezone(ZoneInfo("Europe/Berlin")).time() == time(15, 0)
    assert therapy.decoded("DTEND") - start == calendar.APPOINTMENT_LENGTH
    assert brief.decoded("DTSTART") == start - timedelta(hours=24)
    for event in (therapy, brief):
        assert event["RRULE"]["FREQ"] == ["WEEKLY"]
    assert str(brief["URL"]) == "https://undertone.example/recaps/brief/"
    assert str(brief["TRANSP"]) == "TRANSPARENT" and str(therapy["CLASS"]) == "PRIVATE"
    assert therapy["UID"] != brief["UID"]
    # Nothing of the recap: no word it shares with the recap that a feed with no recap behind it (another
    # person's, same slot) lacks, and none of the planted markers.
    text = response.content.decode()
    weekly(other_user, hours=24)
    fixed = words(feed(calendar.calendar_feed_create(user=other_user)).content.decode())
    assert not (words(text) & recap_words(recap)) - fixed, (words(text) & recap_words(recap)) - fixed
    assert "zanthoxylum" not in text and "fernwhistle" not in text
    assert user.username not in text and str(recap.id) not in text


def test_a_one_off_date_and_its_brief_at_the_right_times_in_utc(user):
    when = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    client_settings_save(
        user=user, next_appointment=when, weekly_weekday=None, weekly_time=None, brief_hours_before=12
    )
    cal = parsed(feed(calendar.calendar_feed_create(user=user)))
    found = events(cal)
    assert found["Therapy"][0].decoded("DTSTART") == when
    assert found["Therapy · your brief is ready"][0].decoded("DTSTART") == when - timedelta(hours=12)
    assert "RRULE" not in found["Therapy"][0]
    assert found["Therapy"][0].to_ical().decode().count("Z\r\n") >= 2  # DTSTART/DTEND in UTC


def test_the_uids_stay_the_same_between_fetches(user):
    weekly(user)
    token = calendar.calendar_feed_create(user=user)
    first = sorted(str(e["UID"]) for e in parsed(feed(token)).walk("VEVENT"))
    assert first == sorted(str(e["UID"]) for e in parsed(feed(token)).walk("VEVENT"))


def test_no_appointment_is_an_empty_but_valid_calendar(user):
    cal = parsed(feed(calendar.calendar_feed_create(user=user)))
    assert cal.walk("VEVENT") == [] and cal["VERSION"] == "2.0"


def test_a_past_one_off_date_is_dropped(user):
    client_settings_save(
        user=user,
        next_appointment=timezone.now() - timedelta(days=3),
        weekly_weekday=None,
        weekly_time=None,
        brief_hours_before=24,
    )
    assert parsed(feed(calendar.calendar_feed_create(user=user))).walk("VEVENT") == []


def test_a_reset_kills_the_old_url_and_off_kills_the_new_one(user):
    weekly(user)
    old = calendar.calendar_feed_create(user=user)
    assert feed(old).status_code == 200
    new = calendar.calendar_feed_create(user=user)
    assert feed(old).status_code == 404
    assert feed(new).status_code == 200
    calendar.calendar_feed_off(user=user)
    assert feed(new).status_code == 404
    assert ReminderSettings.objects.get(user=user).calendar_token_hash is None


def test_only_a_hash_of_the_secret_is_stored(user):
    token = calendar.calendar_feed_create(user=user)
    prefs = ReminderSettings.objects.get(user=user)
    assert prefs.calendar_token_hash == calendar.feed_hash(token) and token not in prefs.calendar_token_hash
    assert len(token) >= 43  # 256 bits


def test_each_token_shows_only_its_owners_events(user, other_user):
    weekly(user, weekday=0, at=time(9, 0))
    weekly(other_user, weekday=4, at=time(18, 30))
    mine, theirs = calendar.calendar_feed_create(user=user), calendar.calendar_feed_create(user=other_user)
    starts = {
        token: {
            e.decoded("DTSTART").astimezone(ZoneInfo("UTC")).time()
            for e in parsed(feed(token)).walk("VEVENT")
        }
        for token in (mine, theirs)
    }
    assert time(9, 0) in starts[mine] and time(18, 30) not in starts[mine]
    assert time(18, 30) in starts[theirs] and time(9, 0) not in starts[theirs]
    # Signed in as someone else changes nothing: the token alone decides.
    other = Client()
    other.force_login(other_user)
    assert parsed(feed(mine, other)).walk("VEVENT")[0].decoded("DTSTART").time() == time(9, 0)


def test_unknown_tokens_get_the_sites_404_and_no_login_is_needed(user):
    weekly(user)
    calendar.calendar_feed_create(user=user)
    for token in ("x" * 43, "", "a" * 300):
        if not token:
            continue
        response = feed(token)
        assert response.status_code == 404 and "Nothing here" in response.content.decode()
    # An inactive account's feed answers as if it did not exist.
    token = calendar.calendar_feed_create(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert feed(token).status_code == 404


def test_the_feed_is_get_only_and_remembers_when_it_was_fetched(user):
    weekly(user)
    token = calendar.calendar_feed_create(user=user)
    assert Client().post(reverse("recaps:calendar_feed", args=[token])).status_code == 405
    assert ReminderSettings.objects.get(user=user).calendar_fetched_at is None
    feed(token)
    assert ReminderSettings.objects.get(user=user).calendar_fetched_at is not None


def test_the_feed_is_rate_limited_per_feed(user, clean_redis, one_ratelimit_window):
    token = calendar.calendar_feed_create(user=user)
    statuses = [feed(token).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429


def test_a_one_off_on_the_weekly_slot_is_shown_once(user, settings):
    settings.TIME_ZONE = "UTC"
    now = timezone.now()
    slot = next_weekly(now=now, weekday=1, at=time(10, 0))
    client_settings_save(
        user=user,
        next_appointment=slot,
        weekly_weekday=1,
        weekly_time=time(10, 0),
        brief_hours_before=24,
    )
    found = events(parsed(feed(calendar.calendar_feed_create(user=user))))
    assert len(found["Therapy"]) == 1 and "RRULE" in found["Therapy"][0]
    assert isinstance(found["Therapy"][0].decoded("DTSTART"), datetime)
