"""Patterns (dated columns, themes merged by the topic vocabulary, readable on a phone) and the
Pre-Session Brief (open next steps without repeats, "To bring back" only from questions and the
after-session notes' bring-back lines, every item linked to its session)."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from recaps.edits import short_date, theme_key
from recaps.models import Recap
from recaps.selectors import brief_for_user, item_words, items_same, patterns_recaps_for_user
from recaps.services import after_note_create, next_step_toggle
from recaps.view_models import label_lines, patterns_view
from tests.recaps.recap_fixtures import appointment_soon, make_recap

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def set_data(recap: Recap, **changes) -> Recap:
    data = recap.data
    data.update(changes)
    Recap.objects.filter(id=recap.id).update(data=data)
    recap.refresh_from_db()
    return recap


def item(text, sources=(1.0,)):
    return {"text": text, "sources": list(sources)}


# ---- Patterns -------------------------------------------------------------------------------------


def test_theme_keys_follow_the_topic_vocabulary():
    assert theme_key("Sleep") == theme_key("Sleep problems") == theme_key("trouble sleeping") == "topic:sleep"
    assert theme_key("Grief and loss") == "topic:grief"
    assert theme_key("marathon") == "label:marathon"  # outside the vocabulary: its own row
    assert label_lines("Guilt and shame") == ["Guilt and", "shame"]
    assert label_lines("Partner and relationship") == ["Partner and", "relationship"]
    assert label_lines("Sleep") == ["Sleep"]


def test_patterns_merge_synonyms_and_date_every_column(user):
    now = timezone.now()
    a = make_recap(user=user, number=1, session_date=now - timedelta(days=14))
    b = make_recap(user=user, number=2, name="grief_parent", session_date=now - timedelta(days=7))
    c = make_recap(user=user, number=3, name="adhd_routines", session_date=now - timedelta(days=1))
    set_data(
        a,
        themes=[
            {"label": "Sleep", "share": 0.5, "sources": [1.0]},
            {"label": "Work", "share": 0.3, "sources": [1.0]},
        ],
    )
    set_data(b, themes=[{"label": "Sleep problems", "share": 0.4, "sources": [1.0]}])
    set_data(
        c,
        themes=[
            {"label": "Trouble sleeping", "share": 0.2, "sources": [1.0]},
            {"label": "Work", "share": 0.3, "sources": [1.0]},
        ],
    )
    p = patterns_view(patterns_recaps_for_user(user=user))
    assert [r.label for r in p.rows] == ["Sleep", "Work"]  # one row for the three wordings
    sleep = p.rows[0]
    assert sleep.count == 3 and len(sleep.cells) == 3 and all(sleep.shares)
    assert [col.date for col in p.columns] == [short_date(r.session_date) for r in (a, b, c)]
    assert dict(p.recurring) == {"Sleep": 3, "Work": 2}

    body = signed_in(user).get(reverse("recaps:patterns")).content.decode()
    svg = body[body.index('<svg class="dot-grid"') : body.index("</svg>")]
    dates = re.findall(r'class="col-date">([^<]+)<', svg)
    assert dates == [short_date(r.session_date) for r in (a, b, c)]
    assert re.findall(r'class="row-label"><title>([^<]+)</title>', svg) == ["Sleep", "Work"]
    table = body[body.index('<table class="pattern-table">') : body.index("</table>")]
    assert all(f'<th scope="col">{d}</th>' in table for d in dates)
    for r in (a, b, c):  # each column names its session and links to it
        assert reverse("recaps:detail", args=[r.id]) in body


def test_patterns_fit_a_phone_and_say_when_the_chart_scrolls(user):
    now = timezone.now()
    for n in range(1, 3):
        make_recap(user=user, number=n, session_date=now - timedelta(days=10 - n))
    few = patterns_view(patterns_recaps_for_user(user=user))
    assert not few.scrolls and few.width <= 300
    body = signed_in(user).get(reverse("recaps:patterns")).content.decode()
    assert "scroll-hint" not in body
    for n in range(3, 10):
        make_recap(user=user, number=n, session_date=now - timedelta(days=10 - n))
    many = patterns_view(patterns_recaps_for_user(user=user))
    assert many.scrolls and many.col_w >= 46
    body = signed_in(user).get(reverse("recaps:patterns")).content.decode()
    assert (
        'class="card pattern-chart scrolls"' in body
        and "Scroll the chart sideways to see all 9 sessions" in body
    )
    # The chart scrolls in its own box, which keyboard users can reach too.
    assert '<div class="chart-scroll" tabindex="0" role="region"' in body


# ---- the brief ------------------------------------------------------------------------------------


def test_same_step_words_are_compared_conservatively():
    same = items_same
    assert same(item_words("Use an old alarm clock instead."), item_words("use an old alarm clock"))
    assert same(
        item_words("Do the breathing again, if you wake up at 3."),
        item_words("Do the breathing if you wake up at 3"),
    )
    assert not same(item_words("Call your mum on Sunday."), item_words("Call your dad on Sunday."))
    assert not same(
        item_words("Write a letter to your dad."),
        item_words("Write a letter to your dad and read it aloud to your sister."),
    )
    assert not same(item_words("..."), item_words("..."))  # nothing to compare: never "the same"


def test_brief_folds_repeated_next_steps_into_the_newest_and_links_each_to_its_session(user):
    now = timezone.now()
    older = make_recap(user=user, number=1, session_date=now - timedelta(days=8))
    latest = make_recap(user=user, number=2, name="grief_parent", session_date=now - timedelta(days=1))
    set_data(older, next_steps=[item("Use an old alarm clock instead."), item("Walk after lunch.")])
    set_data(latest, next_steps=[item("Use an old alarm clock"), item("Write a letter to your dad.")])
    appointment_soon(user)
    brief = brief_for_user(user=user)
    texts = [i.text for i in brief.next_steps]
    assert texts == ["Use an old alarm clock", "Write a letter to your dad.", "Walk after lunch."]
    clock = brief.next_steps[0]
    assert clock.recap == latest and [r for r, _ in clock.also] == [older]

    page = signed_in(user).get(reverse("recaps:brief")).content.decode()
    steps = page[
        page.index('id="brief-next-steps"') : page.index("</section>", page.index('id="brief-next-steps"'))
    ]
    assert steps.count("Use an old alarm clock") == 1
    links = re.findall(r'<a href="(/recaps/[0-9a-f-]+/)#next-steps">', steps)
    assert links == [
        reverse("recaps:detail", args=[latest.id]),
        reverse("recaps:detail", args=[older.id]),  # "also" the older session
        reverse("recaps:detail", args=[latest.id]),
        reverse("recaps:detail", args=[older.id]),
    ]
    # Marked done where it was said last, the step is done: the older repeat does not come back.
    next_step_toggle(recap=latest, index=0)
    assert [i.text for i in brief_for_user(user=user).next_steps] == [
        "Write a letter to your dad.",
        "Walk after lunch.",
    ]


def test_to_bring_back_is_only_questions_and_note_bring_back_lines_each_linked(user):
    now = timezone.now()
    older = make_recap(user=user, number=1, session_date=now - timedelta(days=8))
    latest = make_recap(user=user, number=2, name="grief_parent", session_date=now - timedelta(days=1))
    set_data(older, questions=[item("Is it normal to feel this guilty about rest?")])
    set_data(
        latest, questions=[item("Is it normal to feel so guilty about rest?"), item("Should I tell Mum?")]
    )
    with_recap = after_note_create(
        user=user, recap=latest, bring_back="The dream about the house", stood_out="Not this"
    )
    alone = after_note_create(user=user, bring_back="Ask about the waiting list", practise="Not this either")
    appointment_soon(user)
    brief = brief_for_user(user=user)
    assert [q.text for q in brief.questions] == [
        "Is it normal to feel so guilty about rest?",
        "Should I tell Mum?",
    ]
    assert [r for r, _ in brief.questions[0].also] == [older]
    assert {line.text for line in brief.note_bring_back} == {
        "The dream about the house",
        "Ask about the waiting list",
    }

    page = signed_in(user).get(reverse("recaps:brief")).content.decode()
    start = page.index('id="brief-questions"')
    section = page[start : page.index("</section>", start)]
    items = re.findall(r"<li[^>]*>(.*?)</li>", section, re.S)
    assert len(items) == 4
    # Nothing else: no summary line, next step, theme or moment of those recaps.
    for data in (older.data, latest.data):
        for other in data["summary"] + data["next_steps"] + data["insights"]:
            assert escape(other["text"]) not in section
        for m in data["moments"]:
            assert escape(m["quote"]) not in section
    assert "Not this" not in section
    # Every item links to where it came from: its session, or the note when it has no session.
    detail_latest = reverse("recaps:detail", args=[latest.id])
    for text, href in (
        ("The dream about the house", detail_latest),
        ("Ask about the waiting list", reverse("recaps:after_note_edit", args=[alone.id])),
        ("Is it normal to feel so guilty about rest?", f"{detail_latest}#questions"),
        ("Should I tell Mum?", f"{detail_latest}#questions"),
    ):
        li = next(li for li in items if escape(text) in li)
        assert f'href="{href}"' in li, text
    assert with_recap.recap_id == latest.id
    moment = page[page.index('id="brief-moment"') :]
    assert (
        f'href="{detail_latest}#moments"' in moment
        or f'href="{reverse("recaps:detail", args=[older.id])}#moments"' in moment
    )
