"""Shaping a recap: rename, fix a misheard word, remove, reword or add. Edits live in the encrypted
Recap.data (recaps/edits.py), survive a reload, reach the export, Patterns and the brief, move the done
marks and moment schedules with their items, are refused to anyone else and are re-encrypted by key
rotation."""

import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from recaps import edits, services
from recaps.edits import EditRefused, item_digest
from recaps.models import MomentSchedule, NextStepStatus, Recap
from recaps.selectors import brief_for_user, patterns_recaps_for_user
from recaps.services import encryption_keys_rotate, next_step_toggle
from recaps.view_models import patterns_view
from tests.recaps.recap_fixtures import appointment_soon, make_recap

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fresh(recap: Recap) -> dict:
    return Recap.objects.get(id=recap.id).data


def digest(recap: Recap, section: str, index: int) -> str:
    return item_digest(fresh(recap)[section][index])


def remove(client, recap, section, index, dig=None):
    return client.post(
        reverse("recaps:edit_remove", args=[recap.id]),
        {"section": section, "index": index, "digest": dig or digest(recap, section, index)},
    )


# ---- the rules (pure) -----------------------------------------------------------------------------


def test_fix_word_whole_words_case_preserving_and_counted():
    data = {
        "summary": [{"text": "Jon said Jon's boss is JON. Jonathan is not him.", "sources": [1.0]}],
        "themes": [{"label": "Jon", "share": 0.5, "sources": [1.0]}],
        "insights": [{"text": "Nothing about him.", "sources": [2.0]}],
        "next_steps": [{"text": "Call jon on Sunday.", "sources": [3.0]}],
        "questions": [],
        "moments": [{"reflection": "About Jon", "quote": "jon, I said", "offset": 4.0, "sources": [4.0]}],
        "full_recap": [
            {"title": "Main threads", "subtitle": "Jon", "paragraphs": [{"text": "Jon.", "sources": [5.0]}]}
        ],
    }
    new, count, sections = edits.fix_word(data, "jon", "John")
    assert new["summary"][0]["text"] == "John said John's boss is JOHN. Jonathan is not him."
    assert new["themes"][0]["label"] == "John"
    assert new["next_steps"][0]["text"] == "Call John on Sunday."
    assert new["moments"][0]["quote"] == "John, I said" and new["moments"][0]["reflection"] == "About John"
    assert (
        new["full_recap"][0]["subtitle"] == "John"
        and new["full_recap"][0]["paragraphs"][0]["text"] == "John."
    )
    assert count == 9
    assert sections == ["summary", "next_steps", "themes", "moments", "full_recap"]
    # Changed items are marked edited and keep their sources; untouched ones are left exactly as they were.
    assert new["summary"][0]["edited"] is True and new["summary"][0]["sources"] == [1.0]
    assert new["insights"][0] == data["insights"][0] and "edited" not in new["insights"][0]
    assert "edited" not in data["summary"][0]  # the input is not changed in place
    # Lower case where it was lower case, unless the person typed capitals.
    assert (
        edits.fix_word({"summary": [{"text": "the sleep and Sleep"}]}, "sleep", "rest")[0]["summary"][0][
            "text"
        ]
        == "the rest and Rest"
    )
    # "art" is not in "start"; "t" is not in "don't".
    assert edits.fix_word({"summary": [{"text": "start don't"}]}, "art", "x")[1] == 0
    assert edits.fix_word({"summary": [{"text": "start don't"}]}, "t", "x")[1] == 0


def test_fix_word_refuses_empty_long_and_same():
    data = {"summary": [{"text": "a b c", "sources": []}]}
    for wrong, right in (("", "x"), ("x", " "), ("a" * 61, "b"), ("a", "b" * 61), ("same", "same")):
        with pytest.raises(EditRefused):
            edits.fix_word(data, wrong, right)


def test_stale_digest_changes_nothing():
    data = {"insights": [{"text": "one", "sources": []}, {"text": "two", "sources": []}]}
    with pytest.raises(EditRefused):
        edits.remove_item(data, "insights", 0, item_digest(data["insights"][1]))
    with pytest.raises(EditRefused):
        edits.remove_item(data, "insights", 5, item_digest(data["insights"][1]))
    with pytest.raises(EditRefused):
        edits.remove_item(data, "stats", 0, "x")


# ---- through the pages ----------------------------------------------------------------------------


def test_rename_shows_everywhere_and_empty_brings_the_automatic_title_back(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    response = client.post(reverse("recaps:edit_title", args=[recap.id]), {"title": "  The   hard  week  "})
    assert response.status_code == 302
    assert fresh(recap)["title"] == "The hard week"
    assert fresh(recap)["edits"][-1]["what"] == "rename"
    assert (
        '<h1 class="recap-title">The hard week</h1>'
        in client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    )
    assert "The hard week" in client.get(reverse("recaps:list")).content.decode()
    assert (
        client.get(reverse("recaps:export", args=[recap.id]))
        .content.decode()
        .startswith("# The hard week · ")
    )
    too_long = client.post(reverse("recaps:edit_title", args=[recap.id]), {"title": "x" * 81}, follow=True)
    assert "too long" in too_long.content.decode() and fresh(recap)["title"] == "The hard week"
    client.post(reverse("recaps:edit_title", args=[recap.id]), {"title": ""})
    assert "title" not in fresh(recap)
    assert "Work and sleep · " in client.get(reverse("recaps:detail", args=[recap.id])).content.decode()


def test_fix_word_page_says_how_many_places_and_not_found(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    url = reverse("recaps:edit_fix_word", args=[recap.id])
    before = fresh(recap)
    expected = edits.fix_word(before, "sleep", "rest")[1]
    assert expected >= 3
    page = client.post(url, {"wrong": "sleep", "right": "rest"}, follow=True).content.decode()
    assert f"Fixed in {expected} places." in page
    after = fresh(recap)
    assert "sleep" not in str(after).lower().replace("sleeping", "")  # every whole word "sleep" went
    assert {e["what"] for e in after["edits"]} == {"fix_word"}
    assert all(
        "sleep" not in str(e) and "rest" not in str(e) for e in after["edits"]
    )  # no wording in the log
    page = client.post(url, {"wrong": "zebra", "right": "horse"}, follow=True).content.decode()
    assert "Not found" in page and fresh(recap) == after
    page = client.post(url, {"wrong": "", "right": "horse"}, follow=True).content.decode()
    assert "Write the word to replace." in page and fresh(recap) == after
    page = client.post(url, {"wrong": "x" * 61, "right": "horse"}, follow=True).content.decode()
    assert "too long" in page and fresh(recap) == after


def test_edits_survive_reload_and_show_marked_on_the_page_and_in_the_export(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    data = fresh(recap)
    removed_insight = data["insights"][0]["text"]
    kept_insight = data["insights"][1]
    assert remove(client, recap, "insights", 0).status_code == 302
    step0 = data["next_steps"][0]
    client.post(
        reverse("recaps:edit_item", args=[recap.id]),
        {
            "section": "next_steps",
            "index": 0,
            "digest": item_digest(step0),
            "text": "Phone in the kitchen at ten.",
        },
    )
    client.post(
        reverse("recaps:edit_item", args=[recap.id]),
        {"section": "questions", "text": "How do I rest without guilt?"},
    )

    data = fresh(recap)  # re-read from the database
    assert removed_insight not in [i["text"] for i in data["insights"]]
    assert data["insights"][0] == kept_insight  # untouched: sources kept, no mark
    assert data["next_steps"][0] == {
        "text": "Phone in the kitchen at ten.",
        "sources": step0["sources"],
        "edited": True,
    }
    assert data["questions"][-1] == {
        "text": "How do I rest without guilt?",
        "sources": [],
        "edited": True,
        "added": True,
    }
    assert [(e["what"], e["section"]) for e in data["edits"]] == [
        ("remove", "insights"),
        ("edit", "next_steps"),
        ("add", "questions"),
    ]
    assert all(set(e) == {"at", "what", "section"} for e in data["edits"])

    page = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    insights = page[page.index('id="insights"') : page.index('id="next-steps"')]
    assert escape(removed_insight) not in insights and escape(kept_insight["text"]) in insights
    assert re.search(
        r'Phone in the kitchen at ten\. <span class="when">\d\d:\d\d</span> <span class="edited-mark">edited',
        page,
    )
    assert re.search(r"How do I rest without guilt\? <span class=\"edited-mark\">added by you</span>", page)

    export = client.get(reverse("recaps:export", args=[recap.id])).content.decode()
    insights = export[export.index("## Key insights") : export.index("## Next steps")]
    assert removed_insight not in insights and kept_insight["text"] in insights
    assert "- Phone in the kitchen at ten. (edited) (" in export  # its sources' time stays
    assert "- How do I rest without guilt? (added by you)\n" in export


def test_edits_reach_patterns_and_the_brief(user):
    older = make_recap(
        user=user, number=1, name="adhd_routines", session_date=timezone.now() - timedelta(days=8)
    )
    latest = make_recap(user=user, number=2, name="work_sleep")
    client = signed_in(user)
    appointment_soon(user)
    # Remove "Work" from the latest recap: it no longer recurs; reword a question.
    work = next(i for i, t in enumerate(fresh(latest)["themes"]) if t["label"] == "Work")
    remove(client, latest, "themes", work)
    q = fresh(latest)["questions"][0]
    client.post(
        reverse("recaps:edit_item", args=[latest.id]),
        {"section": "questions", "index": 0, "digest": item_digest(q), "text": "Is rest allowed?"},
    )
    gone_step = fresh(older)["next_steps"][0]["text"]
    remove(client, older, "next_steps", 0)

    patterns = patterns_view(patterns_recaps_for_user(user=user))
    work_row = next(r for r in patterns.rows if r.label == "Work")
    assert work_row.count == 1 and [c for c in work_row.shares if c] == [work_row.shares[0]]
    assert "Work" not in dict(patterns.recurring)

    brief = brief_for_user(user=user)
    assert "Work" not in dict(brief.recurring)
    assert "Is rest allowed?" in [i.text for i in brief.questions]
    assert q["text"] not in [i.text for i in brief.questions]
    assert gone_step not in [i.text for i in brief.next_steps]
    page = client.get(reverse("recaps:brief")).content.decode()
    assert "Is rest allowed?" in page and escape(gone_step) not in page


def test_done_marks_move_with_their_steps_on_remove_and_add(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    steps = [s["text"] for s in fresh(recap)["next_steps"]]
    assert len(steps) >= 5
    for i in (0, 2, 4):
        next_step_toggle(recap=recap, index=i)

    def done_texts():
        data = fresh(recap)
        marks = NextStepStatus.objects.filter(recap=recap).values_list("index", flat=True)
        return sorted(data["next_steps"][i]["text"] for i in marks)

    assert done_texts() == sorted([steps[0], steps[2], steps[4]])
    remove(client, recap, "next_steps", 1)  # an open step before two done ones
    assert done_texts() == sorted([steps[0], steps[2], steps[4]])
    remove(client, recap, "next_steps", 1)  # a done one (was index 2): its mark goes with it
    assert done_texts() == sorted([steps[0], steps[4]])
    client.post(reverse("recaps:edit_item", args=[recap.id]), {"section": "next_steps", "text": "A new step"})
    assert done_texts() == sorted([steps[0], steps[4]])
    assert fresh(recap)["next_steps"][-1]["text"] == "A new step"
    page = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    assert page.count("Done ✓") == 2


def test_removing_a_moment_keeps_the_schedules_on_their_moments(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    moments = fresh(recap)["moments"]
    assert len(moments) == 3
    before = {row.index: row.surface_at for row in MomentSchedule.objects.filter(recap=recap)}
    remove(client, recap, "moments", 0)
    rows = list(MomentSchedule.objects.filter(recap=recap).order_by("index"))
    assert [r.index for r in rows] == [0, 1]
    assert [r.surface_at for r in rows] == [before[1], before[2]]  # each kept its day
    assert [m["quote"] for m in fresh(recap)["moments"]] == [moments[1]["quote"], moments[2]["quote"]]


def test_a_stale_page_cannot_remove_the_wrong_item(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    stale = digest(recap, "summary", 1)
    remove(client, recap, "summary", 0)  # the list moved up: index 1 is now another line
    before = fresh(recap)
    page = client.post(
        reverse("recaps:edit_remove", args=[recap.id]),
        {"section": "summary", "index": 1, "digest": stale},
        follow=True,
    ).content.decode()
    assert "changed since the page was loaded" in page and fresh(recap) == before


def test_no_edits_while_the_model_is_still_writing_the_recap(user):
    recap = make_recap(user=user)
    data = fresh(recap)
    data["polishing"] = True
    Recap.objects.filter(id=recap.id).update(data=data)  # the field encrypts on update too
    recap.refresh_from_db()
    with pytest.raises(EditRefused):
        services.recap_rename(recap=recap, title="x")
    assert "title" not in fresh(recap)


def test_someone_else_gets_404_and_nothing_changes(user, other_user):
    recap = make_recap(user=user)
    mallory = signed_in(other_user)
    before = fresh(recap)
    d0 = digest(recap, "summary", 0)
    attempts = [
        ("get", reverse("recaps:edit", args=[recap.id]), {}),
        ("post", reverse("recaps:edit_title", args=[recap.id]), {"title": "mine now"}),
        ("post", reverse("recaps:edit_fix_word", args=[recap.id]), {"wrong": "sleep", "right": "x"}),
        (
            "post",
            reverse("recaps:edit_remove", args=[recap.id]),
            {"section": "summary", "index": 0, "digest": d0},
        ),
        ("post", reverse("recaps:edit_item", args=[recap.id]), {"section": "questions", "text": "x"}),
    ]
    for method, url, body in attempts:
        response = getattr(mallory, method)(url, body)
        nobody = getattr(mallory, method)(
            url.replace(str(recap.id), "00000000-0000-4000-8000-000000000000"), body
        )
        assert response.status_code == nobody.status_code == 404, url
    assert fresh(recap) == before
    # The owner's edit page works, and GET never changes anything.
    assert signed_in(user).get(reverse("recaps:edit", args=[recap.id])).status_code == 200
    assert signed_in(user).get(reverse("recaps:edit_title", args=[recap.id])).status_code == 405


def test_key_rotation_re_encrypts_edits(user, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.RECAP_ENCRYPTION_KEYS = [old]
    recap = make_recap(user=user)
    services.recap_rename(recap=recap, title="Lighthouse week")
    services.recap_fix_word(recap=recap, wrong="sleep", right="rest")
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM recaps_recap WHERE id = %s", [recap.id.hex])
        raw_before = cursor.fetchone()[0]
    assert raw_before.startswith("gAAAA") and "Lighthouse" not in raw_before and "edited" not in raw_before
    settings.RECAP_ENCRYPTION_KEYS = [new, old]
    encryption_keys_rotate()
    settings.RECAP_ENCRYPTION_KEYS = [new]  # the old key is gone: the edits still read
    data = Recap.objects.get(id=recap.id).data
    assert data["title"] == "Lighthouse week"
    assert any(item.get("edited") for item in data["summary"]) and data["edits"][-1]["what"] == "fix_word"


def test_edit_page_works_without_javascript_and_links_from_the_recap(user):
    recap = make_recap(user=user)
    client = signed_in(user)
    detail = client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    edit_url = reverse("recaps:edit", args=[recap.id])
    assert f'href="{edit_url}"' in detail and f'href="{edit_url}#edit-next_steps"' in detail
    page = client.get(edit_url).content.decode()
    for part in (
        "edit-title",
        "edit-fix",
        "edit-summary",
        "edit-themes",
        "edit-insights",
        "edit-next_steps",
        "edit-questions",
        "edit-moments",
    ):
        assert f'id="{part}"' in page, part
    assert page.count('name="csrfmiddlewaretoken"') >= 6
    assert 'type="module" src="/static/recaps/edit.js"' in page and "<script>" not in page
