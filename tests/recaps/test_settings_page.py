"""The settings page (recaps/settings_views.py): signed in only, every section, the email address, the
reminder switches, the calendar address shown once, linked devices, the recap engine, and the zip of
every recap with the person's notes, made in memory."""

import io
import re
import tempfile
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from capture.models import LinkedDevice
from recaps import calendar
from recaps.models import AfterNote, RecapAccess, ReminderSettings
from recaps.services import after_note_create, session_note_save
from tests.factories import PASSWORD
from tests.recaps.recap_fixtures import make_recap

pytestmark = pytest.mark.django_db

SETTINGS = reverse("recaps:settings")


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_every_settings_url_needs_a_login(client):
    for name in ("settings", "settings_export"):
        response = client.get(reverse(f"recaps:{name}"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    for name in ("settings_email", "settings_reminders", "settings_calendar"):
        response = client.post(reverse(f"recaps:{name}"), {"email": "x@example.org", "action": "create"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not ReminderSettings.objects.exists()


def test_the_page_shows_each_section(client, user, settings):
    settings.RECAP_LLM_URL = ""
    body = login(client, user).get(SETTINGS).content.decode()
    for section in ("account", "reminders", "appointments", "devices", "export", "engine"):
        assert f'id="{section}"' in body, section
    for name in ("password_change", "account_delete", "capture:devices", "recaps:appointment"):
        assert f'href="{reverse(name)}"' in body, name
    assert f'href="{reverse("recaps:settings_export")}"' in body
    assert "Undertone’s own engine" in body
    assert 'id="needs-email"' in body and " disabled" in body  # reminders need an address first
    assert 'src="/static/recaps/settings.js"' in body and "<script>" not in body


def test_the_engine_in_use_names_the_model_host(client, user, settings):
    settings.RECAP_LLM_URL = "http://10.0.0.7:11434/v1"
    body = login(client, user).get(SETTINGS).content.decode()
    assert "The language model at <strong>10.0.0.7</strong>" in body


def test_linked_devices_show_name_last_use_and_address(client, user, other_user):
    now = timezone.now()
    LinkedDevice.objects.create(
        user=user,
        name="Chrome on Linux",
        ip="192.0.2.14",
        last_seen_at=now - timedelta(hours=2),
        expires_at=now + timedelta(hours=1),
    )
    LinkedDevice.objects.create(user=user, name="Old laptop", expires_at=now - timedelta(hours=1))
    LinkedDevice.objects.create(user=other_user, name="Someone else's", expires_at=now + timedelta(hours=1))
    body = login(client, user).get(SETTINGS).content.decode()
    assert "Chrome on Linux" in body and "192.0.2.14" in body and "2\xa0hours ago" in body
    assert "Old laptop" not in body and "Someone else" not in body


def test_the_email_address_is_validated_and_saved(client, user):
    login(client, user)
    url = reverse("recaps:settings_email")
    response = client.post(url, {"email": "not an address"})
    assert response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    user.refresh_from_db()
    assert user.email == ""
    response = client.post(url, {"email": " person@example.org "})
    assert response.status_code == 302 and response["Location"] == SETTINGS
    user.refresh_from_db()
    assert user.email == "person@example.org"
    assert 'value="person@example.org"' in client.get(SETTINGS).content.decode()
    client.post(url, {"email": ""})
    user.refresh_from_db()
    assert user.email == ""


def test_email_reminders_are_off_by_default_and_need_an_address(client, user):
    login(client, user)
    url = reverse("recaps:settings_reminders")
    response = client.post(url, {"email_moments": "on"})
    assert response.status_code == 200 and "Add your email address first" in response.content.decode()
    assert not ReminderSettings.objects.exists()
    user.email = "person@example.org"
    user.save(update_fields=["email"])
    assert client.post(url, {"email_moments": "on"}).status_code == 302
    prefs = ReminderSettings.objects.get(user=user)
    assert prefs.email_moments and not prefs.email_brief
    body = client.get(SETTINGS).content.decode()
    assert re.search(r'name="email_moments" id="id_email_moments" checked', body)
    client.post(url, {})
    prefs.refresh_from_db()
    assert not prefs.email_moments


def test_the_calendar_address_is_shown_once_and_a_reset_replaces_it(client, user):
    login(client, user)
    url = reverse("recaps:settings_calendar")
    body = client.post(url, {"action": "create"}).content.decode()
    made = re.search(r'id="feed-url" value="([^"]+)"', body).group(1)
    assert made.endswith(".ics") and 'data-copy-target="feed-url"' in body
    token = made.rsplit("/", 1)[1].removesuffix(".ics")
    assert calendar.calendar_feed_for_token(token).user == user
    later = client.get(SETTINGS).content.decode()
    assert token not in later and 'id="feed-on"' in later  # on, but the address cannot be shown again

    body = client.post(url, {"action": "reset"}).content.decode()
    assert "The old one no longer works" in body
    new = re.search(r'id="feed-url" value="[^"]+/([^/"]+)\.ics"', body).group(1)
    assert new != token
    assert Client().get(reverse("recaps:calendar_feed", args=[token])).status_code == 404
    assert Client().get(reverse("recaps:calendar_feed", args=[new])).status_code == 200

    assert client.post(url, {"action": "off"}).status_code == 302
    assert Client().get(reverse("recaps:calendar_feed", args=[new])).status_code == 404
    assert "Make a calendar address" in client.get(SETTINGS).content.decode()


def test_the_export_is_one_markdown_file_per_own_recap_with_the_notes(client, user, other_user, monkeypatch):
    first = make_recap(user=user, number=1, session_date=timezone.now() - timedelta(days=9))
    second = make_recap(user=user, number=2, name="adhd_routines")
    theirs = make_recap(user=other_user, number=1, name="grief_parent")
    theirs_data = theirs.data
    theirs_data["summary"][0]["text"] = "Someone else's marker vellichor."
    theirs.data = theirs_data
    theirs.save(update_fields=["data"])
    session_note_save(recap=first, user=user, text="# my own heading\nsecond line of my note")
    after_note_create(user=user, recap=second, practise="walk before work")
    after_note_create(user=user, bring_back="the letter to my sister")
    after_note_create(user=other_user, stood_out="their private note")

    # Nothing may touch the disk on the way: every temp-file function fails the request if called.
    def no_temp_files(*args, **kwargs):
        raise AssertionError("the export wrote a temporary file")

    for name in ("mkstemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, no_temp_files)

    response = login(client, user).get(reverse("recaps:settings_export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="undertone-recaps-\d{4}-\d\d-\d\d\.zip"', response["Content-Disposition"]
    )
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert names == sorted(
        [
            f"session-1-{first.session_date:%Y-%m-%d}.md",
            f"session-2-{second.session_date:%Y-%m-%d}.md",
            "after-session-notes.md",
        ]
    )
    one = archive.read(names[names.index(f"session-1-{first.session_date:%Y-%m-%d}.md")]).decode()
    two = archive.read(f"session-2-{second.session_date:%Y-%m-%d}.md").decode()
    assert one.startswith("# ") and "\n## " in one
    assert "> # my own heading" in one and "> second line of my note" in one
    assert "walk before work" in two and "walk before work" not in one
    assert "the letter to my sister" in archive.read("after-session-notes.md").decode()
    everything = "".join(archive.read(n).decode() for n in names)
    assert "vellichor" not in everything and "their private note" not in everything
    # The same Markdown as the one-recap export, notes aside.
    single = login(Client(), user).get(reverse("recaps:export", args=[second.id])).content.decode()
    assert two.startswith(single.rstrip())
    exported = set(RecapAccess.objects.filter(user=user, action="export").values_list("recap_id", flat=True))
    assert {first.id, second.id} <= exported and theirs.id not in exported
    assert AfterNote.objects.filter(user=user).count() == 2  # reading changed nothing


def test_the_export_of_someone_with_no_recaps_is_an_empty_zip(client, user):
    response = login(client, user).get(reverse("recaps:settings_export"))
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == []
