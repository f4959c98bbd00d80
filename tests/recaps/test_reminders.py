"""Reminder emails (recaps/reminders.py): a real SMTP conversation with a local aiosmtpd server, sent by
the beat task; once only, content-free, off by default, an off link that works without signing in,
the daily and per-run limits, and at-most-once when sending fails."""

import email
import email.policy
import logging
import re
import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recaps import reminders, tasks
from recaps.models import MomentSchedule, Recap, ReminderSent, ReminderSettings
from recaps.services import client_settings_save
from tests.conftest import free_port
from tests.recaps.recap_fixtures import appointment_soon, make_recap

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Words planted in the recap: a leak of any of them is unmistakable.
MARKERS = {
    "summary": "zanthoxylum",
    "themes": "quillwortian",
    "next_steps": "brindlecomb",
    "moments": "fernwhistle",
}


def words(text: str) -> set[str]:
    """Words of four letters or more, URLs left out (their tokens are random letters)."""
    return set(re.findall(r"[^\W\d_]{4,}", re.sub(r"https?://\S+", " ", text).casefold()))


def recap_words(recap: Recap) -> set[str]:
    data = recap.data
    texts = [
        s.get("text", "") for key in ("summary", "insights", "next_steps", "questions") for s in data[key]
    ]
    texts += [t.get("label", "") for t in data["themes"]]
    texts += [m.get(k, "") for m in data["moments"] for k in ("reflection", "quote")]
    found = set().union(*(words(t) for t in texts))
    assert len(found) > 30  # a real recap, so the check below means something
    return found


def template_words() -> set[str]:
    """The email's fixed wording, straight from its templates: the only words it may share with a recap."""
    sources = " ".join(p.read_text() for p in (ROOT / "templates" / "email").glob("*.txt"))
    sources = re.sub(r"\{[%{#].*?[%}#]\}", " ", sources)
    return words(sources) | words(" ".join(reminders.SUBJECTS.values()))


def assert_content_free(text: str, recap: Recap) -> None:
    leaked = (words(text) & recap_words(recap)) - template_words()
    assert not leaked, leaked
    assert not words(text) & set(MARKERS.values())


def planted_recap(user) -> Recap:
    """A recap with marker words in its summary, themes, next steps and moments, and its first moment
    due a minute ago (today), the others later."""
    recap = make_recap(user=user)
    data = recap.data
    data["summary"][0]["text"] += f" {MARKERS['summary']}"
    data["themes"][0]["label"] += f" {MARKERS['themes']}"
    data["next_steps"][0]["text"] += f" {MARKERS['next_steps']}"
    data["moments"][0]["quote"] += f" {MARKERS['moments']}"
    recap.data = data
    recap.save(update_fields=["data"])
    now = timezone.now()
    MomentSchedule.objects.filter(recap=recap).update(surface_at=now + timedelta(days=3))
    MomentSchedule.objects.filter(recap=recap, index=0).update(surface_at=now - timedelta(minutes=1))
    return recap


def opted_in(user, *, address="person@example.org", moments=True, brief=False):
    user.email = address
    user.save(update_fields=["email"])
    return reminders.reminder_settings_save(user=user, email_moments=moments, email_brief=brief)


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free loopback port, and Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = "http://testserver"
    yield inbox
    controller.stop()


def test_a_moment_reminder_arrives_once_over_smtp_says_nothing_and_turns_off_without_signing_in(
    smtp, user, caplog
):
    recap = planted_recap(user)
    opted_in(user)
    caplog.set_level(logging.INFO, logger="recaps.reminders")

    tasks.reminders_send()  # the beat task, run as the worker runs it
    tasks.reminders_send()  # again: still one email
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert smtp.recipients[0] == ["person@example.org"]
    assert message["Subject"] == "A moment from your last session is waiting"
    body = message.get_content()
    assert_content_free(f"{message['Subject']}\n{body}", recap)
    assert "http://testserver/" in body  # a way into the app
    off_link = re.search(r"http://testserver(/recaps/reminders/off/\S+/)", body).group(1)
    assert message["List-Unsubscribe"].strip() == f"<http://testserver{off_link}>"
    assert ReminderSent.objects.filter(user=user, kind="moment").count() == 1
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("recaps"))
    assert "1 sent" in ours and "person@example.org" not in ours and str(recap.id) not in ours

    # The off link, by someone who is not signed in, with the CSRF check on as in a browser.
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(off_link)
    assert page.status_code == 200 and "Turn these emails off" in page.content.decode()
    assert ReminderSettings.objects.get(user=user).email_moments  # a GET (a mail scanner) changes nothing
    token = anonymous.cookies["csrftoken"].value
    done = anonymous.post(off_link, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200 and "They’re off" in done.content.decode()
    assert not ReminderSettings.objects.get(user=user).email_moments
    assert anonymous.post(off_link, {"csrfmiddlewaretoken": token}).status_code == 200  # idempotent

    # Tomorrow's moment, and nothing recorded in the way: still nothing, because it is off.
    ReminderSent.objects.all().delete()
    MomentSchedule.objects.filter(recap=recap, index=1).update(surface_at=timezone.now())
    tasks.reminders_send()
    assert len(smtp.messages) == 1


def test_a_tampered_or_foreign_off_link_is_refused_with_a_clear_page(user):
    opted_in(user)
    good = reminders.off_token(user_id=user.pk, kind="moment")
    bad = [
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # the signature changed
        reminders.off_token(user_id=user.pk, kind="moment").replace(":", ":x", 1),
        signing.Signer(salt="another.salt").sign_object({"u": user.pk, "k": "moment"}),  # signed elsewhere
        signing.Signer(salt=reminders.OFF_SALT).sign_object({"u": user.pk, "k": "everything"}),
        "not-a-token",
    ]
    for token in bad:
        for method in ("get", "post"):
            response = getattr(Client(), method)(reverse("recaps:reminder_off", args=[token]))
            assert response.status_code == 404, token
            assert "This link doesn’t work" in response.content.decode()
    assert ReminderSettings.objects.get(user=user).email_moments


def test_reminders_are_off_by_default_and_need_an_address(user, other_user, mailoutbox):
    planted_recap(user)  # never opted in
    planted_recap(other_user)
    opted_in(other_user, address="")  # opted in, then removed the address
    ReminderSettings.objects.filter(user=other_user).update(email_moments=True)
    assert reminders.reminders_send().sent == 0
    assert mailoutbox == []


def test_the_brief_reminder_when_it_unlocks_once_per_appointment(user, mailoutbox):
    recap = planted_recap(user)
    opted_in(user, moments=False, brief=True)
    soon = timezone.now() + timedelta(hours=30)
    client_settings_save(
        user=user, next_appointment=soon, weekly_weekday=None, weekly_time=None, brief_hours_before=24
    )
    assert reminders.reminders_send().sent == 0  # it opens in six hours
    later = timezone.now() + timedelta(hours=7)
    assert reminders.reminders_send(now=later).sent == 1
    assert reminders.reminders_send(now=later + timedelta(minutes=10)).sent == 0
    assert [m.subject for m in mailoutbox] == ["Your Pre-Session Brief is ready"]
    assert reverse("recaps:brief") in mailoutbox[0].body
    assert_content_free(mailoutbox[0].subject + "\n" + mailoutbox[0].body, recap)


def test_the_daily_limit_holds(user, settings, mailoutbox):
    opted_in(user, moments=True, brief=True)
    planted_recap(user)
    appointment_soon(user)
    settings.REMINDERS = {**settings.REMINDERS, "EMAILS_PER_USER_PER_DAY": 1}
    counts = reminders.reminders_send()
    assert (counts.sent, counts.capped) == (1, 1)
    assert [m.subject for m in mailoutbox] == ["Your Pre-Session Brief is ready"]  # the brief goes first
    assert reminders.reminders_send().sent == 0

    # With the default of two: two already sent in the last 24 hours leave no room for a third.
    settings.REMINDERS = {**settings.REMINDERS, "EMAILS_PER_USER_PER_DAY": 2}
    ReminderSent.objects.create(user=user, kind="brief", key="an-earlier-appointment")
    counts = reminders.reminders_send()
    assert (counts.sent, counts.capped) == (0, 1)
    assert len(mailoutbox) == 1


def test_the_per_run_limit_leaves_the_rest_for_the_next_run(settings, mailoutbox):
    from tests.factories import UserFactory

    people = [UserFactory() for _ in range(3)]
    for person in people:
        opted_in(person, address=f"{person.username}@example.org")
        planted_recap(person)
    settings.REMINDERS = {**settings.REMINDERS, "EMAILS_PER_RUN": 2}
    counts = reminders.reminders_send()
    assert (counts.sent, counts.deferred) == (2, 1)
    assert reminders.reminders_send().sent == 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted(f"{p.username}@example.org" for p in people)


def test_a_mail_server_that_is_down_costs_no_reminder(user, settings):
    opted_in(user)
    planted_recap(user)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    assert reminders.reminders_send().sent == 0
    assert not ReminderSent.objects.exists()  # nothing claimed: the next run tries again


def test_a_send_that_fails_after_the_claim_is_not_repeated_and_the_rest_wait(
    user, other_user, monkeypatch, mailoutbox
):
    """At most once: the row is written before the send, so a failure (or a crash) in between loses
    that reminder rather than sending it on every run. The run stops there; the others are not claimed
    and go out next time."""
    for person in (user, other_user):
        opted_in(person, address=f"{person.username}@example.org")
        planted_recap(person)

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone mid-message")

    monkeypatch.setattr(mail.EmailMessage, "send", refuse)
    counts = reminders.reminders_send()
    assert (counts.sent, counts.failed, counts.deferred) == (0, 1, 1)
    monkeypatch.undo()
    assert reminders.reminders_send().sent == 1
    assert reminders.reminders_send().sent == 0
    assert ReminderSent.objects.count() == 2 and len(mailoutbox) == 1
    assert mailoutbox[0].to == [f"{other_user.username}@example.org"]  # the one the failure left waiting


def test_a_moment_of_yesterday_is_not_announced_again_after_midnight(user, mailoutbox):
    opted_in(user)
    recap = planted_recap(user)
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    MomentSchedule.objects.filter(recap=recap, index=0).update(surface_at=today - timedelta(hours=1))
    assert reminders.reminders_send(now=today).sent == 1
    tomorrow = today + timedelta(hours=13)  # 01:00 the next day, the same moment still unseen
    assert reminders.reminders_send(now=tomorrow).sent == 0
    MomentSchedule.objects.filter(recap=recap, index=1).update(surface_at=tomorrow - timedelta(minutes=5))
    assert reminders.reminders_send(now=tomorrow).sent == 1  # the next moment's own day
    assert len(mailoutbox) == 2


def test_a_seen_moment_needs_no_reminder(user, mailoutbox):
    opted_in(user)
    recap = planted_recap(user)
    MomentSchedule.objects.filter(recap=recap).update(seen_at=timezone.now())
    assert reminders.reminders_send().sent == 0


def test_the_beat_schedule_runs_the_job(settings):
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "recaps.tasks.reminders_send"
    )
    assert entry["schedule"] <= 15 * 60
    assert tasks.reminders_send.name == "recaps.tasks.reminders_send"


def test_the_off_link_of_one_kind_leaves_the_other(user):
    opted_in(user, moments=True, brief=True)
    Client().post(reverse("recaps:reminder_off", args=[reminders.off_token(user_id=user.pk, kind="brief")]))
    prefs = ReminderSettings.objects.get(user=user)
    assert prefs.email_moments and not prefs.email_brief


def test_an_off_link_for_an_account_that_is_gone_changes_nothing_and_says_nothing(user):
    token = reminders.off_token(user_id=user.pk + 1000, kind="moment")
    response = Client().post(reverse("recaps:reminder_off", args=[token]))
    assert response.status_code == 200  # the same answer as for a real one: an id reveals nothing
    assert not ReminderSettings.objects.exists()
