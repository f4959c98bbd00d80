# ruff: noqa: E501
"""The recap viewer: order of sections, next-step toggles, notes, export, delete, patterns, ownership
on every URL, capture-scoped devices kept out, and deleting the whole account."""

import copy
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Notification
from capture.models import CaptureSession, CaptureWindow, LinkedDevice, PairingRequest, TranscriptSegment
from capture.pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from recaps import edits
from recaps.engines.base import RecapResult
from recaps.engines.safety import SUPPORT_LINE
from recaps.models import MomentSchedule, NextStepStatus, Recap, RecapAccess, SessionNote
from recaps.services import client_settings_save, next_step_toggle, session_note_save
from tests.factories import PASSWORD
from tests.recaps.recap_fixtures import appointment_soon, make_recap

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def owner_urls(recap: Recap) -> list[tuple[str, str]]:
    schedule = MomentSchedule.objects.filter(recap=recap).first()
    return [
        ("get", reverse("recaps:detail", args=[recap.id])),
        ("get", reverse("recaps:export", args=[recap.id])),
        ("get", reverse("recaps:delete", args=[recap.id])),
        ("post", reverse("recaps:delete", args=[recap.id])),
        ("post", reverse("recaps:note", args=[recap.id])),
        ("post", reverse("recaps:next_step_toggle", args=[recap.id, 0])),
        ("post", reverse("recaps:moment_seen", args=[schedule.id])),
    ]


def test_detail_shows_sections_in_order_with_offsets_and_label(client, user):
    recap = make_recap(user=user, number=4)
    body = login(client, user).get(reverse("recaps:detail", args=[recap.id])).content.decode()
    order = [body.index(f'id="{i}"') for i in ("summary", "themes", "insights", "next-steps", "questions")]
    order += [body.index('id="moments"'), body.index('<details class="card deeper" id="full-recap"')]
    assert order == sorted(order)
    assert edits.recap_title(recap) in body and "Session 4 · " in body
    assert re.search(r'class="when">\d\d:\d\d<', body)  # mm:ss offsets
    assert '<svg class="share-bar"' in body
    # Server-rendered: the only script is the site-wide service-worker registration, from a file.
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", body, re.S)
    assert scripts == [""] and 'src="/static/app/register-sw.js"' in body
    assert body.count("Mark done") == len(recap.data["next_steps"])


def test_list_uses_neutral_labels(client, user):
    make_recap(user=user, number=1)
    make_recap(user=user, number=2, name="adhd_routines")
    body = login(client, user).get(reverse("recaps:list")).content.decode()
    assert "Session 1 ·" in body and "Session 2 ·" in body
    assert body.index("Session 2 ·") < body.index("Session 1 ·")  # newest first


def test_next_step_toggle_marks_done_and_undoes(client, user):
    recap = make_recap(user=user)
    login(client, user)
    url = reverse("recaps:next_step_toggle", args=[recap.id, 1])
    detail = reverse("recaps:detail", args=[recap.id])
    response = client.post(url, {"next": detail})
    assert response.status_code == 302 and response["Location"] == detail
    assert NextStepStatus.objects.filter(recap=recap, index=1).exists()
    assert "Done ✓" in client.get(detail).content.decode()
    client.post(url)
    assert not NextStepStatus.objects.filter(recap=recap).exists()
    # Off-site `next` is ignored; an index past the list is a 404.
    assert client.post(url, {"next": "https://evil.example/"})["Location"].startswith(detail)
    assert client.post(reverse("recaps:next_step_toggle", args=[recap.id, 99])).status_code == 404


def test_note_is_saved_encrypted_and_shown_to_owner(client, user):
    recap = make_recap(user=user)
    login(client, user)
    # One note feature on the page: the after-session note; no second, free-text form of its own.
    page = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    assert 'id="write-after-note"' in page and "Save note" not in page
    client.post(reverse("recaps:note", args=[recap.id]), {"text": "Ask about the lighthouse"})
    assert SessionNote.objects.get(recap=recap).text == "Ask about the lighthouse"
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM recaps_sessionnote")
        assert cursor.fetchone()[0].startswith("gAAAA")
    page = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    # A note written before the two were one: shown, editable, inside the one notes card.
    notes_card = page.split('id="after-notes"', 1)[1].split("</section>", 1)[0]
    assert "Ask about the lighthouse" in notes_card and "Save note" in notes_card
    client.post(reverse("recaps:note", args=[recap.id]), {"text": "  "})
    assert not SessionNote.objects.filter(recap=recap).exists()


def test_export_is_markdown_attachment(client, user):
    recap = make_recap(user=user, number=3)
    response = login(client, user).get(reverse("recaps:export", args=[recap.id]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"].startswith('attachment; filename="session-3-')
    body = response.content.decode()
    assert body == RecapResult.from_dict(recap.data).to_markdown(title=edits.dated_title(recap))
    assert body.startswith(f"# {edits.dated_title(recap)}\n") and "## Next steps" in body


def test_delete_needs_confirm_and_removes_schedules_and_note(client, user):
    recap = make_recap(user=user)
    session_note_save(recap=recap, user=user, text="mine")
    next_step_toggle(recap=recap, index=0)
    login(client, user)
    url = reverse("recaps:delete", args=[recap.id])
    page = client.get(url)
    assert page.status_code == 200 and "cannot be undone" in page.content.decode()
    assert Recap.objects.filter(id=recap.id).exists()  # GET only asks
    assert client.post(url)["Location"] == reverse("recaps:list")
    assert not Recap.objects.filter(id=recap.id).exists()
    for model in (MomentSchedule, SessionNote, NextStepStatus):
        assert not model.objects.filter(recap_id=recap.id).exists()


def test_patterns_chart_and_recurring_list(client, user):
    make_recap(user=user, number=1, name="work_sleep", session_date=timezone.now() - timedelta(days=14))
    make_recap(user=user, number=2, name="adhd_routines", session_date=timezone.now() - timedelta(days=7))
    make_recap(user=user, number=3, name="grief_parent")
    body = login(client, user).get(reverse("recaps:patterns")).content.decode()
    svg = body[body.index('<svg class="dot-grid"') : body.index("</svg>", body.index("dot-grid"))]
    assert 'role="img"' in svg and "aria-labelledby" in svg
    assert svg.index(">S1<") < svg.index(">S2<") < svg.index(">S3<")  # oldest first
    assert svg.count("<circle") >= 6 and svg.count('class="row-label"') == 6
    assert "<table" in body  # the text alternative
    recurring = body[body.index('id="recurring"') :]
    assert re.search(r"Work</span> <span class=\"pill\">2 sessions", recurring)
    assert "Dad</span>" not in recurring  # only in one session


def test_other_user_gets_404_on_every_owned_url(client, user, other_user):
    recap = make_recap(user=user)
    appointment_soon(user, hours=2)
    login(client, other_user)
    for method, url in owner_urls(recap):
        assert getattr(client, method)(url).status_code == 404, (method, url)
    # Nothing was changed by those attempts, and the other person's own pages show none of it.
    assert Recap.objects.filter(id=recap.id).exists()
    assert not NextStepStatus.objects.exists() and not SessionNote.objects.exists()
    assert not MomentSchedule.objects.filter(seen_at__isnull=False).exists()
    summary = recap.data["summary"][0]["text"]
    for name in ("recaps:brief", "recaps:patterns", "recaps:list"):
        assert escape(summary) not in client.get(reverse(name)).content.decode()
    assert escape(recap.data["moments"][0]["quote"]) not in client.get("/").content.decode()
    assert (
        reverse("recaps:detail", args=[recap.id]) not in client.get(reverse("recaps:list")).content.decode()
    )


def test_capture_scoped_device_is_refused_every_recap_url(user):
    recap = make_recap(user=user)
    device = LinkedDevice.objects.create(
        user=user, name="Laptop", expires_at=timezone.now() + timedelta(hours=1)
    )
    laptop = login(Client(), user)
    session = laptop.session
    session[CAPTURE_DEVICE_SESSION_KEY] = str(device.id)
    session.save()
    urls = owner_urls(recap) + [
        ("get", reverse(name))
        for name in ("recaps:list", "recaps:brief", "recaps:appointment", "recaps:patterns", "account_delete")
    ]
    for method, url in urls:
        assert getattr(laptop, method)(url).status_code == 403, (method, url)
    home = laptop.get("/").content.decode()
    assert "Today's moment" not in home and escape(recap.data["moments"][0]["quote"]) not in home


def test_account_delete_wrong_password_keeps_everything(client, user):
    make_recap(user=user)
    response = login(client, user).post(reverse("account_delete"), {"password": "nope"})
    assert response.status_code == 200 and "not right" in response.content.decode()
    assert get_user_model().objects.filter(id=user.id).exists()


def test_account_delete_leaves_nothing(client, user, other_user):
    user.username = "only-this-person-7f3a"  # unique, so the raw-table scan cannot match someone else
    user.save(update_fields=["username"])
    recap = make_recap(user=user)
    make_recap(user=other_user)  # the other person's things must survive
    session_note_save(recap=recap, user=user, text="mine")
    next_step_toggle(recap=recap, index=0)
    client_settings_save(
        user=user, next_appointment=None, weekly_weekday=2, weekly_time=None, brief_hours_before=12
    )
    device = LinkedDevice.objects.create(
        user=user, name="Laptop", expires_at=timezone.now() + timedelta(hours=1)
    )
    capture = CaptureSession.objects.create(user=user, device=device)
    window = CaptureWindow.objects.create(session=capture, channel=0, seq_first=0, seq_last=5)
    TranscriptSegment.objects.create(
        session=capture, window=window, index=0, channel=0, start=0, end=1, text="x"
    )
    Notification.objects.create(user=user, kind=Notification.Kind.DEVICE_LINKED, message="Linked")
    PairingRequest.objects.create(
        token_hash="a" * 64, binding_hash="b" * 64, number=12, approved_by=user, expires_at=timezone.now()
    )
    login(Client(), user)  # a second signed-in browser: its django_session row must go too
    login(client, user).get(reverse("recaps:detail", args=[recap.id]))  # an audit row
    assert RecapAccess.objects.filter(user=user).exists()
    username, user_id = user.username, user.id

    response = client.post(reverse("account_delete"), {"password": PASSWORD})
    assert response.status_code == 200 and "Your account is deleted" in response.content.decode()

    # Every model with a foreign key (direct or through a recap/session) to the user: zero rows.
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if getattr(f, "many_to_one", False) or getattr(f, "one_to_one", False):
                if f.concrete and f.related_model is get_user_model():
                    assert not model.objects.filter(**{f.name: user_id}).exists(), model
    assert not get_user_model().objects.filter(id=user_id).exists()
    assert not Recap.objects.filter(user_id=user_id).exists()
    assert MomentSchedule.objects.count() == MomentSchedule.objects.filter(recap__user=other_user).count()
    for model in (SessionNote, NextStepStatus, TranscriptSegment, CaptureWindow, PairingRequest):
        assert model.objects.count() == 0, model
    assert not RecapAccess.objects.filter(recap_id=recap.id).exists()
    for s in Session.objects.all():
        assert s.get_decoded().get("_auth_user_id") != str(user_id)
    # And no table anywhere still holds the username in any text column.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cols = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            q = connection.ops.quote_name
            where = " OR ".join(f"CAST({q(c)} AS TEXT) LIKE %s" for c in cols)
            cursor.execute(f"SELECT COUNT(*) FROM {q(table)} WHERE {where}", [f"%{username}%"] * len(cols))  # noqa: S608
            assert cursor.fetchone()[0] == 0, table
    assert Recap.objects.filter(user=other_user).count() == 1


def test_themes_read_in_words_not_percentages(client, user):
    recap = make_recap(user=user)
    body = login(client, user).get(reverse("recaps:detail", args=[recap.id])).content.decode()
    themes = body[body.index('id="themes"') : body.index('id="insights"')]
    assert "%" not in themes
    assert themes.count('class="muted share-text">most<') == 1  # the heaviest, first
    labels = re.findall(r'class="theme-label">([^<]+)<', themes)
    assert labels[0] == recap.data["themes"][0]["label"]


def test_the_support_line_shows_only_when_self_harm_or_suicide_came_up(client, user):
    quiet = make_recap(user=user, number=1)
    login(client, user)
    assert 'id="support"' not in client.get(reverse("recaps:detail", args=[quiet.id])).content.decode()
    data = copy.deepcopy(quiet.data)
    data["safety"] = {"text": SUPPORT_LINE, "sources": [data["summary"][0]["sources"][0]]}
    heard = Recap.objects.create(
        user=user, number=2, engine="local", data=data, session_date=quiet.session_date
    )
    body = client.get(reverse("recaps:detail", args=[heard.id])).content.decode()
    assert 'id="support"' in body and "call or text 988" in body


def test_a_recap_stored_with_the_first_schema_still_renders_and_exports(client, user):
    old = {
        "schema": 1,
        "engine": "local",
        "summary": [{"text": "You talked about sleep and work.", "sources": [4.0]}],
        "themes": [{"label": "Nights", "share": 0.4, "sources": [4.0]}],
        "insights": [{"text": "You said: “I say yes to everything.”", "sources": [4.0]}],
        "next_steps": [{"text": "Try a wind-down routine.", "sources": [4.0]}],
        "questions": [],
        "moments": [
            {"reflection": "Something you noticed.", "quote": "I say yes.", "offset": 4.0, "sources": [4.0]}
        ],
        "full_recap": [
            {"title": "Main threads", "subtitle": "Nights", "paragraphs": [{"text": "p.", "sources": [4.0]}]}
        ],
        "stats": {
            "duration_s": 221.0,
            "speech_s": {"client": 100.0},
            "words": {"client": 300},
            "segments": 10,
        },
    }
    recap = Recap.objects.create(
        user=user, number=1, engine="local", data=old, session_date=timezone.now() - timedelta(days=1)
    )
    login(client, user)
    body = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    assert "You talked about sleep and work." in body and "Try a wind-down routine." in body
    assert "Something you noticed." in body and 'id="support"' not in body
    assert "3 min 41 s" in body  # recorded time in minutes, not raw seconds
    export = client.get(reverse("recaps:export", args=[recap.id])).content.decode()
    assert "## Moments" in export and "Try a wind-down routine." in export
