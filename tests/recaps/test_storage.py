"""Recaps at rest: ciphertext in the database, key rotation, failing closed on a wrong key, and the
access audit."""

import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from capture.models import TranscriptSegment
from recaps.models import AfterNote, Recap, RecapAccess, SessionNote
from recaps.services import ENCRYPTED_COLUMNS, after_note_create, session_note_save
from tests.factories import PASSWORD
from tests.recaps.recap_fixtures import make_recap
from undertone_web.crypto import DecryptionError

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
NOTE = "Remember the lighthouse idea"


def words_of(data) -> set[str]:
    """Every word of 4+ letters in the recap's text, to look for in the raw column."""
    text = " ".join(re.findall(r'"(?:text|label|quote|reflection|title|subtitle)":"([^"]*)"', str(data)))
    text += " ".join(str(v) for v in _strings(data))
    return {w.casefold() for w in re.findall(r"[A-Za-z]{4,}", text)}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def content_strings(data) -> list[str]:
    """Every sentence, quote and theme label of the recap."""
    return [
        s for s in _strings(data) if len(s) >= 4 and s not in ("local", "Opening", "Closing", "Main threads")
    ]


def raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 - test-only, fixed names
        return [row[0] for row in cursor.fetchall()]


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


def test_every_content_column_is_ciphertext(user):
    recap = make_recap(user=user)
    session_note_save(recap=recap, user=user, text=NOTE)
    words = words_of(recap.data) | {"lighthouse"}
    assert len(words) > 50
    # Short words turn up in random base64 by chance (a 4-letter word in ~20 kB of case-folded
    # token: a few percent a run), so the substring scan uses 7+ letter words (~1e-6 per word); the
    # token alphabet check catches any plaintext, which needs spaces, quotes or punctuation.
    long_words = {w for w in words if len(w) >= 7}
    assert len(long_words) > 20
    for table, _pk, column in ENCRYPTED_COLUMNS:
        for value in raw(table, column):
            assert value.startswith("gAAAA"), (table, column)
            assert re.fullmatch(r"[A-Za-z0-9_-]+=*", value), (table, column)
            lowered = value.casefold()
            assert not [w for w in long_words if w in lowered], (table, column)
    # The only other recap columns hold no content: ids, numbers, dates, the engine's name.
    row = Recap.objects.filter(id=recap.id).values("number", "kind", "engine").get()
    assert row == {"number": 1, "kind": "session", "engine": "local"}
    assert raw(Recap._meta.db_table, "data")[0] != recap.data


def test_rotate_recap_keys_command(user, settings):
    settings.RECAP_ENCRYPTION_KEYS = [KEY_A]
    recap = make_recap(user=user)
    session_note_save(recap=recap, user=user, text=NOTE)
    from capture.models import CaptureSession, CaptureWindow, TranscriptNotes

    session = CaptureSession.objects.create(user=user)
    window = CaptureWindow.objects.create(session=session, channel=0, seq_first=0, seq_last=10)
    TranscriptSegment.objects.create(
        session=session, window=window, index=0, channel=0, start=0, end=1, text="hi"
    )
    after_note_create(user=user, practise=NOTE)  # every encrypted column needs a row to rotate
    CaptureSession.objects.filter(id=session.id).update(backlog_key="k" * 44)
    TranscriptNotes.objects.create(session=session, chunk=0, data={"topics": [{"label": "hi"}]})
    before = {(t, c): raw(t, c) for t, _, c in ENCRYPTED_COLUMNS}

    settings.RECAP_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # new key first, old one still opens
    call_command("rotate_recap_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = {(t, c): raw(t, c) for t, _, c in ENCRYPTED_COLUMNS}
    assert all(before[c] != after[c] for c in before)

    settings.RECAP_ENCRYPTION_KEYS = [KEY_B]  # old key dropped: everything still reads
    assert Recap.objects.get(id=recap.id).data["summary"]
    assert SessionNote.objects.get(recap=recap).text == NOTE
    assert TranscriptSegment.objects.get().text == "hi"
    assert AfterNote.objects.get().practise == NOTE
    assert CaptureSession.objects.get(id=session.id).backlog_key == "k" * 44
    assert TranscriptNotes.objects.get().data == {"topics": [{"label": "hi"}]}


def test_every_encrypted_field_is_listed_for_key_rotation():
    from django.apps import apps

    from undertone_web.crypto import EncryptedJSONField, EncryptedTextField

    fields = {
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField | EncryptedJSONField)
    }
    assert fields == {(table, column) for table, _pk, column in ENCRYPTED_COLUMNS}


def test_wrong_key_raises_and_never_returns_ciphertext(user, settings):
    settings.RECAP_ENCRYPTION_KEYS = [KEY_A]
    recap = make_recap(user=user)
    settings.RECAP_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(DecryptionError):
        Recap.objects.get(id=recap.id)


def test_wrong_key_view_is_a_500_without_content(user, settings):
    settings.RECAP_ENCRYPTION_KEYS = [KEY_A]
    recap = make_recap(user=user)
    client = Client(raise_request_exception=False)
    login(client, user)
    with override_settings(RECAP_ENCRYPTION_KEYS=[KEY_B]):
        response = client.get(reverse("recaps:detail", args=[recap.id]))
        export = client.get(reverse("recaps:export", args=[recap.id]))
        listing = client.get(reverse("recaps:list"))
    assert response.status_code == 500 and export.status_code == 500
    for body in (response.content.decode(), export.content.decode()):
        assert "gAAAA" not in body
        assert "Something went wrong" in body
        assert not [t for t in content_strings(recap.data) if t in body]
    # The list needs only labels and does not decrypt, so it still works.
    assert listing.status_code == 200 and "Session 1" in listing.content.decode()


def test_audit_records_view_export_note_delete_without_content(client, user):
    login(client, user)
    recap = make_recap(user=user)
    client.get(reverse("recaps:detail", args=[recap.id]))
    client.get(reverse("recaps:export", args=[recap.id]))
    client.post(reverse("recaps:note", args=[recap.id]), {"text": NOTE})
    client.post(reverse("recaps:delete", args=[recap.id]))
    rows = list(RecapAccess.objects.filter(recap_id=recap.id).order_by("id").values("user", "action"))
    assert [r["action"] for r in rows] == ["view", "export", "note", "delete"]
    assert {r["user"] for r in rows} == {user.id}
    assert {f.name for f in RecapAccess._meta.fields} == {"id", "user", "recap_id", "action", "at"}
