"""Sessions that are easy to find: a title made from the top themes (or the person's own), a one-line
preview, and a search over titles and themes that never sees another person's recaps."""

from datetime import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from recaps import edits, services
from recaps.models import Recap
from tests.recaps.recap_fixtures import make_recap

pytestmark = pytest.mark.django_db

NOV_29 = timezone.make_aware(datetime(2025, 11, 29, 15, 0))


def theme(label, share):
    return {"label": label, "share": share, "sources": [1.0]}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_auto_title_from_top_themes():
    title = edits.auto_title
    two = {"themes": [theme("Family", 0.2), theme("Sleep", 0.5), theme("Work", 0.1)]}
    assert title(two, number=3, session_date=NOV_29) == "Sleep and family · 29 Nov"
    assert title({"themes": [theme("Sleep", 0.5)]}, number=3, session_date=NOV_29) == "Sleep · 29 Nov"
    assert title({"themes": []}, number=3, session_date=NOV_29) == "Session 3 · 29 Nov"
    assert title({}, number=3, session_date=NOV_29) == "Session 3 · 29 Nov"
    # A label with "and" in it joins with a comma; an acronym keeps its capitals.
    grief = {"themes": [theme("Family", 0.4), theme("Grief and loss", 0.3)]}
    assert title(grief, number=1, session_date=NOV_29) == "Family, grief and loss · 29 Nov"
    adhd = {"themes": [theme("Sleep", 0.4), theme("ADHD and focus", 0.3)]}
    assert title(adhd, number=1, session_date=NOV_29) == "Sleep, ADHD and focus · 29 Nov"
    # Two labels of one topic count once; self-harm and suicide never make a title seen at a glance.
    same = {"themes": [theme("Sleep", 0.5), theme("Sleep problems", 0.3), theme("Work", 0.1)]}
    assert title(same, number=1, session_date=NOV_29) == "Sleep and work · 29 Nov"
    safety = {"themes": [theme("Suicidal thoughts", 0.5), theme("Medication", 0.4)]}
    assert title(safety, number=1, session_date=NOV_29) == "Medication · 29 Nov"


def test_title_shows_on_the_recap_list_brief_export_and_rename_overrides_it(user):
    recap = make_recap(user=user, number=1)
    client = signed_in(user)
    auto = edits.recap_title(recap)
    assert auto.startswith("Work and sleep · ")
    assert (
        f'<h1 class="recap-title">{auto}</h1>'
        in client.get(reverse("recaps:detail", args=[recap.id])).content.decode()
    )
    listing = client.get(reverse("recaps:list")).content.decode()
    assert f'<strong class="session-title">{auto}</strong>' in listing and "Session 1 · " in listing
    assert client.get(reverse("recaps:export", args=[recap.id])).content.decode().startswith(f"# {auto}\n")
    services.recap_rename(recap=recap, title="After the move")
    recap.refresh_from_db()
    assert edits.recap_title(recap) == "After the move"
    assert edits.dated_title(recap) == f"After the move · {edits.short_date(recap.session_date)}"
    listing = client.get(reverse("recaps:list")).content.decode()
    assert '<strong class="session-title">After the move</strong>' in listing and escape(auto) not in listing


def test_list_preview_is_the_first_summary_sentence_cut_by_words(user):
    recap = make_recap(user=user)
    data = recap.data
    data["summary"][0]["text"] = (
        "We talked about the new flat, the long commute, the neighbours and the cat that keeps "
        "coming in through the window. Then other things."
    )
    Recap.objects.filter(id=recap.id).update(data=data)
    recap.refresh_from_db()
    preview = edits.recap_preview(recap.data)
    assert preview == "We talked about the new flat, the long commute, the neighbours and the cat…"
    assert "Then other things" not in preview
    page = signed_in(user).get(reverse("recaps:list")).content.decode()
    assert f'<span class="preview">{escape(preview)}</span>' in page


def test_search_matches_title_and_theme_case_insensitively_and_only_your_own(user, other_user):
    sleep = make_recap(user=user, number=1, name="work_sleep")
    grief = make_recap(user=user, number=2, name="grief_parent")
    theirs = make_recap(user=other_user, number=1, name="grief_parent")
    services.recap_rename(recap=sleep, title="Lighthouse week")
    client = signed_in(user)

    def found(q):
        page = client.get(reverse("recaps:list"), {"q": q}).content.decode()
        return {r for r in (sleep, grief, theirs) if reverse("recaps:detail", args=[r.id]) in page}, page

    assert found("lighthouse")[0] == {sleep}  # the person's own title
    assert found("GRIEF")[0] == {grief}  # a theme, any case
    assert found("anger")[0] == {grief}  # a theme not in the title
    assert found("stress")[0] == {sleep}
    assert found("guilt")[0] == {sleep, grief}  # both have "Guilt and shame"
    assert found("  guilt   SHAME ")[0] == {sleep, grief}  # every word, any spacing
    hits, page = found("marathon")
    assert hits == set() and "No sessions match" in page and "Show all sessions" in page
    assert found("")[0] == {sleep, grief}  # no search: everything of the person's, nothing of anyone else's
    # A summary sentence is not searched: only titles and themes.
    assert found("exhausted")[0] == set()
    page = found("grief")[1]
    assert "1 of 2 sessions match" in page


def test_list_still_works_when_the_recaps_cannot_be_decrypted(user, settings):
    from cryptography.fernet import Fernet

    settings.RECAP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    make_recap(user=user, number=1)
    settings.RECAP_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    page = signed_in(user).get(reverse("recaps:list"), {"q": "sleep"}).content.decode()
    assert "Session 1 · " in page and "gAAAA" not in page
