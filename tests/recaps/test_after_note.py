"""The private after-session note: encrypted at rest, guided form with its limits, owner-only pages
(anyone else gets 404), delete, and its "to practise" / "to bring back" lines in the next
Pre-Session Brief, and only there."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.deletion import account_delete
from recaps.forms import NOTE_ANSWER_MAX
from recaps.models import AfterNote, Recap
from recaps.selectors import brief_for_user, note_lines
from recaps.services import after_note_create, client_settings_save, encryption_keys_rotate, recap_delete
from tests.factories import PASSWORD
from tests.recaps.recap_fixtures import make_recap

pytestmark = pytest.mark.django_db

STOOD_OUT = "The lighthouse metaphor about boundaries"
PRACTISE = "- Pause before answering my sister\n2. Evening walk without the phone"
BRING_BACK = "Why the guilt arrives so quickly"


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def raw_content(note_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT content FROM {AfterNote._meta.db_table} WHERE id = %s",  # noqa: S608 - fixed name
            [note_id.hex if connection.vendor == "sqlite" else str(note_id)],
        )
        return cursor.fetchone()[0]


def unlock_brief(user, *, hours_ahead=5):
    client_settings_save(
        user=user,
        next_appointment=timezone.now() + timedelta(hours=hours_ahead),
        weekly_weekday=None,
        weekly_time=None,
        brief_hours_before=24,
    )


def post_note(client, **fields):
    data = {"stood_out": "", "practise": "", "bring_back": "", "recap": ""} | fields
    return client.post(reverse("recaps:after_note_new"), data)


def test_note_is_a_fernet_token_at_rest(client, user):
    response = post_note(login(client, user), stood_out=STOOD_OUT, practise=PRACTISE, bring_back=BRING_BACK)
    assert response.status_code == 302 and response["Location"] == reverse("recaps:after_note_list")
    note = AfterNote.objects.get(user=user)
    assert (note.stood_out, note.practise, note.bring_back) == (STOOD_OUT, PRACTISE, BRING_BACK)
    assert note.recap is None  # works with no recording at all
    stored = raw_content(note.id)
    assert stored.startswith("gAAAA") and re.fullmatch(r"[A-Za-z0-9_-]+=*", stored)
    lowered = stored.casefold()
    for word in ("lighthouse", "boundaries", "sister", "evening", "guilt", "quickly", "practise"):
        assert word not in lowered, word


def test_key_rotation_re_encrypts_notes(user, settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.RECAP_ENCRYPTION_KEYS = [old]
    note = after_note_create(user=user, practise=PRACTISE)
    before = raw_content(note.id)
    settings.RECAP_ENCRYPTION_KEYS = [new, old]
    assert encryption_keys_rotate()[f"{AfterNote._meta.db_table}.content"] == 1
    settings.RECAP_ENCRYPTION_KEYS = [new]  # the old key is gone; the note still opens
    assert raw_content(note.id) != before and AfterNote.objects.get(id=note.id).practise == PRACTISE


def test_note_lines_and_brief_show_practise_and_bring_back_from_your_note(client, user):
    assert note_lines(PRACTISE) == ["Pause before answering my sister", "Evening walk without the phone"]
    login(client, user)
    post_note(client, stood_out=STOOD_OUT, practise=PRACTISE, bring_back=BRING_BACK)
    note = AfterNote.objects.get(user=user)
    label = f"From your note, {timezone.localtime(note.created_at):%-d %b}"

    # Locked (appointment too far ahead): nothing of the note shows yet.
    unlock_brief(user, hours_ahead=72)
    locked = client.get(reverse("recaps:brief")).content.decode()
    assert "Opens " in locked and escape("Pause before answering my sister") not in locked

    unlock_brief(user)
    body = client.get(reverse("recaps:brief")).content.decode()
    for line in ("Pause before answering my sister", "Evening walk without the phone", BRING_BACK):
        assert escape(line) in body, line
    assert body.count(label) == 3
    assert STOOD_OUT not in body  # what stood out stays in the note itself
    # The practise lines sit under "Still open", the bring-back line under "To bring back".
    steps, questions = body.index('id="brief-next-steps"'), body.index('id="brief-questions"')
    assert steps < body.index("Evening walk") < questions
    assert body.index('id="brief-questions"') < body.index(escape(BRING_BACK))
    # Home says the brief is ready, even with no recording ever made.
    assert not Recap.objects.filter(user=user).exists()
    assert "Your Pre-Session Brief is ready" in client.get("/").content.decode()


def test_brief_takes_notes_since_the_last_appointment_only(user):
    now = timezone.now()
    old = after_note_create(user=user, bring_back="An old worry from a month ago")
    AfterNote.objects.filter(id=old.id).update(created_at=now - timedelta(days=30))
    recent = after_note_create(user=user, bring_back="This week's question")
    unlock_brief(user)
    brief = brief_for_user(user=user, now=now + timedelta(minutes=1))
    assert [line.text for line in brief.note_bring_back] == ["This week's question"]
    assert brief.note_bring_back[0].note.id == recent.id

    # A weekly slot: the last appointment was a week before the next, so a note from before it is
    # the last brief's, not this one's.
    in_two_hours = timezone.localtime(now + timedelta(hours=2))
    client_settings_save(
        user=user,
        next_appointment=None,
        weekly_weekday=in_two_hours.weekday(),
        weekly_time=in_two_hours.time().replace(second=0, microsecond=0),
        brief_hours_before=24,
    )
    AfterNote.objects.filter(id=old.id).update(created_at=now - timedelta(days=8))
    AfterNote.objects.filter(id=recent.id).update(created_at=now - timedelta(days=6))
    brief = brief_for_user(user=user, now=now)
    assert brief.unlocked and [line.text for line in brief.note_bring_back] == ["This week's question"]


def test_note_is_not_in_another_persons_brief_or_lists(client, user, other_user):
    after_note_create(user=user, practise="Only mine to practise", bring_back="Only mine to bring back")
    unlock_brief(other_user)
    login(client, other_user)
    for url in (reverse("recaps:brief"), reverse("recaps:after_note_list"), "/"):
        body = client.get(url).content.decode()
        assert "Only mine" not in body, url
    assert brief_for_user(user=other_user).note_practise == []


def test_form_needs_one_answer_and_limits_length(client, user):
    login(client, user)
    empty = post_note(client, stood_out="   ", practise="\n")
    assert empty.status_code == 200
    assert "Write something in at least one of the three boxes" in empty.content.decode()
    too_long = post_note(client, practise="x" * (NOTE_ANSWER_MAX + 1))
    assert too_long.status_code == 200
    assert f"at most {NOTE_ANSWER_MAX} characters" in too_long.content.decode()
    assert not AfterNote.objects.exists()
    assert post_note(client, bring_back="x" * NOTE_ANSWER_MAX).status_code == 302
    with pytest.raises(ValueError):
        after_note_create(user=user, stood_out=" ")  # the service guards other callers too


def test_note_can_point_at_own_recap_only(client, user, other_user):
    mine = make_recap(user=user, number=1)
    theirs = make_recap(user=other_user, number=1)
    login(client, user)
    page = client.get(reverse("recaps:after_note_new"), {"recap": str(mine.id)}).content.decode()
    assert re.search(rf'<option value="{mine.id}" selected>', page)
    assert (
        str(theirs.id)
        not in client.get(reverse("recaps:after_note_new"), {"recap": str(theirs.id)}).content.decode()
    )
    refused = post_note(client, practise="Try it", recap=str(theirs.id))
    assert refused.status_code == 200 and not AfterNote.objects.exists()
    post_note(client, practise="Try it", recap=str(mine.id))
    note = AfterNote.objects.get()
    assert note.recap_id == mine.id
    detail = client.get(reverse("recaps:detail", args=[mine.id])).content.decode()
    assert "Try it" in detail and reverse("recaps:after_note_edit", args=[note.id]) in detail
    # Deleting the recording keeps the person's own note.
    recap_delete(recap=mine, user=user)
    assert AfterNote.objects.get(id=note.id).recap is None


def test_other_people_get_404_on_every_note_url(client, user, other_user):
    note = after_note_create(user=user, practise=PRACTISE)
    login(client, other_user)
    urls = [
        ("get", reverse("recaps:after_note_edit", args=[note.id])),
        ("post", reverse("recaps:after_note_edit", args=[note.id])),
        ("get", reverse("recaps:after_note_delete", args=[note.id])),
        ("post", reverse("recaps:after_note_delete", args=[note.id])),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, {"practise": "overwritten"} if method == "post" else None)
        assert response.status_code == 404, (method, url)
    assert AfterNote.objects.get(id=note.id).practise == PRACTISE


def test_owner_edits_and_deletes(client, user):
    note = after_note_create(user=user, practise=PRACTISE)
    login(client, user)
    edit_url = reverse("recaps:after_note_edit", args=[note.id])
    assert "Evening walk without the phone" in client.get(edit_url).content.decode()
    response = client.post(edit_url, {"stood_out": "", "practise": "", "bring_back": "New question"})
    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.practise, note.bring_back) == ("", "New question")
    assert "New question" in client.get(reverse("recaps:after_note_list")).content.decode()

    delete_url = reverse("recaps:after_note_delete", args=[note.id])
    assert client.get(delete_url).status_code == 200 and AfterNote.objects.filter(id=note.id).exists()
    assert client.post(delete_url)["Location"] == reverse("recaps:after_note_list")
    assert not AfterNote.objects.filter(id=note.id).exists()
    unlock_brief(user)
    assert "New question" not in client.get(reverse("recaps:brief")).content.decode()


def test_account_delete_removes_notes(user, other_user):
    after_note_create(user=user, practise="mine")
    kept = after_note_create(user=other_user, practise="theirs")
    account_delete(user=user)
    assert list(AfterNote.objects.values_list("id", flat=True)) == [kept.id]
