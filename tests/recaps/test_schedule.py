"""Moments surfacing over the days after a session, and the Pre-Session Brief around an appointment."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from recaps.models import MomentSchedule
from recaps.selectors import brief_for_user, moment_today_for_user, next_weekly
from recaps.services import client_settings_save, moment_days, next_step_toggle
from tests.factories import PASSWORD
from tests.recaps.recap_fixtures import make_recap

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def appointment_in(user, delta: timedelta, hours_before: int = 24):
    client_settings_save(
        user=user,
        next_appointment=timezone.now() + delta,
        weekly_weekday=None,
        weekly_time=None,
        brief_hours_before=hours_before,
    )


def test_moment_days_follow_the_rhythm():
    assert moment_days(7) == [1, 2, 4, 6, 9, 13, 18]
    assert moment_days(12)[:7] == [1, 2, 4, 6, 9, 13, 18] and moment_days(12) == sorted(set(moment_days(12)))


def test_surface_at_days_after_the_session(user):
    session_date = timezone.now() - timedelta(hours=3)
    recap = make_recap(user=user, name="long_session", session_date=session_date)
    rows = list(MomentSchedule.objects.filter(recap=recap).order_by("index"))
    assert len(rows) == len(recap.data["moments"]) >= 4
    assert [(r.surface_at - session_date).days for r in rows] == [1, 2, 4, 6, 9, 13, 18][: len(rows)]
    assert all(r.seen_at is None for r in rows)


def test_todays_moment_one_at_a_time_then_next_after_seen(client, user):
    # Five days on: the moments for days 1, 2 and 4 are due, day 6 is not yet.
    recap = make_recap(user=user, name="long_session", session_date=timezone.now() - timedelta(days=5))
    moments = recap.data["moments"]
    login(client, user)
    for i in range(3):
        home = client.get("/").content.decode()
        assert "Today's moment" in home
        assert escape(moments[i]["quote"]) in home
        assert not [
            m for j, m in enumerate(moments) if j != i and escape(m["quote"]) in home
        ]  # one at a time
        schedule = moment_today_for_user(user=user).schedule
        assert schedule.index == i
        assert client.post(reverse("recaps:moment_seen", args=[schedule.id]))["Location"] == "/#moment"
        assert MomentSchedule.objects.get(id=schedule.id).seen_at is not None
    assert moment_today_for_user(user=user) is None  # day 6 is still in the future
    assert "Today's moment" not in client.get("/").content.decode()
    later = moment_today_for_user(user=user, now=timezone.now() + timedelta(days=1, hours=1))
    assert later.schedule.index == 3


def test_brief_locked_before_window_unlocked_inside_it(client, user):
    make_recap(user=user)
    login(client, user)
    assert not brief_for_user(user=user).unlocked  # no appointment at all
    assert "Set my next appointment" in client.get(reverse("recaps:brief")).content.decode()

    appointment_in(user, timedelta(hours=30), hours_before=24)
    brief = brief_for_user(user=user)
    assert not brief.unlocked and brief.unlocks_at == brief.appointment - timedelta(hours=24)
    page = client.get(reverse("recaps:brief")).content.decode()
    assert "Opens " in page and "Still open" not in page
    assert "Pre-Session Brief is ready" not in client.get("/").content.decode()

    appointment_in(user, timedelta(hours=20), hours_before=24)
    assert brief_for_user(user=user).unlocked
    assert "Still open" in client.get(reverse("recaps:brief")).content.decode()
    assert "Pre-Session Brief is ready" in client.get("/").content.decode()

    appointment_in(user, -timedelta(minutes=5))  # the appointment has passed: locked again
    assert not brief_for_user(user=user).unlocked


def test_weekly_cadence_next_occurrence(user):
    tz = timezone.get_current_timezone()
    wednesday_noon = timezone.make_aware(datetime(2026, 11, 4, 12, 0), tz)  # a Wednesday
    assert next_weekly(now=wednesday_noon, weekday=3, at=time(9, 30)) == timezone.make_aware(
        datetime(2026, 11, 5, 9, 30), tz
    )
    assert next_weekly(now=wednesday_noon, weekday=2, at=time(15, 0)).date().day == 4  # later today
    assert next_weekly(now=wednesday_noon, weekday=2, at=time(11, 0)).date().day == 11  # passed: next week
    assert next_weekly(now=wednesday_noon, weekday=0, at=time(8, 0)).date().day == 9

    client_settings_save(
        user=user, next_appointment=None, weekly_weekday=3, weekly_time=time(9, 30), brief_hours_before=24
    )
    brief = brief_for_user(user=user, now=wednesday_noon)
    assert brief.appointment == timezone.make_aware(datetime(2026, 11, 5, 9, 30), tz)
    assert brief.unlocked  # 21.5 hours before
    assert not brief_for_user(user=user, now=wednesday_noon - timedelta(hours=3)).unlocked


def test_brief_content_open_steps_questions_recurring_theme_and_moment(user):
    older = make_recap(
        user=user, number=1, name="adhd_routines", session_date=timezone.now() - timedelta(days=8)
    )
    latest = make_recap(
        user=user, number=2, name="work_sleep", session_date=timezone.now() - timedelta(days=1)
    )
    next_step_toggle(recap=latest, index=0)
    appointment_in(user, timedelta(hours=3))
    brief = brief_for_user(user=user)
    texts = [item.text for item in brief.next_steps]
    assert latest.data["next_steps"][1]["text"] in texts  # open
    assert latest.data["next_steps"][0]["text"] not in texts  # marked done
    assert older.data["next_steps"][0]["text"] in texts
    assert latest.data["questions"][0]["text"] in [q.text for q in brief.questions]
    recurring = dict(brief.recurring)
    latest_themes = {t["label"] for t in latest.data["themes"]}
    older_themes = {t["label"] for t in older.data["themes"]}
    assert recurring.get("Work") == 2  # in both sessions
    # Recurring means in both: a theme of one session only is not listed.
    assert set(recurring) == latest_themes & older_themes
    assert latest_themes - older_themes and not (latest_themes - older_themes) & set(recurring)
    assert brief.moment in latest.data["moments"] and brief.moment_recap == latest


def test_brief_page_shows_content_and_toggles_back_to_brief(client, user):
    latest = make_recap(user=user, number=1)
    appointment_in(user, timedelta(hours=3))
    login(client, user)
    page = client.get(reverse("recaps:brief")).content.decode()
    step = latest.data["next_steps"][0]["text"]
    assert escape(step) in page and "A moment worth bringing back" in page
    url = reverse("recaps:next_step_toggle", args=[latest.id, 0])
    assert client.post(url, {"next": reverse("recaps:brief")})["Location"] == reverse("recaps:brief")
    assert escape(step) not in client.get(reverse("recaps:brief")).content.decode()


def test_appointment_form_once_and_weekly(client, user):
    login(client, user)
    when = timezone.localtime() + timedelta(days=2)
    response = client.post(
        reverse("recaps:appointment"),
        {"kind": "once", "next_appointment": when.strftime("%Y-%m-%dT%H:%M"), "brief_hours_before": 12},
    )
    assert response["Location"] == reverse("recaps:brief")
    prefs = user.recap_settings
    assert prefs.next_appointment.replace(second=0, microsecond=0) == when.replace(second=0, microsecond=0)
    assert prefs.brief_hours_before == 12 and prefs.weekly_weekday is None
    client.post(
        reverse("recaps:appointment"),
        {"kind": "weekly", "weekly_weekday": "4", "weekly_time": "17:00", "brief_hours_before": 24},
    )
    prefs.refresh_from_db()
    assert prefs.weekly_weekday == 4 and prefs.weekly_time == time(17, 0) and prefs.next_appointment is None
    bad = client.post(reverse("recaps:appointment"), {"kind": "weekly", "brief_hours_before": 24})
    assert bad.status_code == 200 and "Choose the day." in bad.content.decode()
