# Sample dialogue reads best one utterance per line.
# ruff: noqa: E501
"""Themes: plain topic words from a reviewed data file, never filler, verbs, weekdays, numbers or
names; heaviest first."""

import json

import pytest

from recaps.engines import Segment, get_engine
from recaps.engines import topics as T


def test_the_topic_file_is_versioned_and_valid():
    data = json.loads(T.DATA_FILE.read_text())
    assert isinstance(data["version"], int) and data["reviewed"]
    catalogue = T.catalogue()
    ids = [t.id for t in catalogue.topics]
    assert len(ids) == len(set(ids)) >= 40
    for topic in catalogue.topics:
        assert topic.label[0].isupper() and topic.phrase[:1].islower(), topic.id
        assert all(w == w.lower() for term in topic.terms for w in term.words)


def test_a_broken_topic_file_fails_loudly():
    with pytest.raises(ValueError):
        T._parse({"version": 1, "reviewed": "2026-11-29", "topics": [{"id": "x", "label": "X"}]})
    with pytest.raises(ValueError):
        T._parse({"version": "one", "reviewed": "", "topics": []})


def test_terms_match_whole_words_prefixes_phrases_and_excludes():
    assert T.topic_hits("I had three beers and some wine")["alcohol"][0] >= 2
    assert T.topic_hits("I should drink water more often").get("alcohol", (0, 0))[0] == 0  # excluded phrase


def segs(lines):
    return [
        Segment(speaker=speaker, start=i * 10.0, end=i * 10.0 + 8, text=text)
        for i, (speaker, text) in enumerate(lines)
    ]


NOISY = [
    ("therapist", "Hi Priya, how was Tuesday?"),
    ("client", "Tuesday was kinda rough, I wanna be honest. I couldn't sleep, like, at all."),
    ("therapist", "Three nights in a row of bad sleep?"),
    (
        "client",
        "Yeah, three nights. Kinda. I called my mum on Tuesday about it, she said I'm drinking too much coffee.",
    ),
    ("therapist", "What happens when you can't sleep?"),
    ("client", "I lie awake and think about work. Wanna know the worst part? The deadline is Tuesday again."),
    ("therapist", "So sleep and the work deadline are tangled together."),
    ("client", "Yeah, I called in sick once because I was so tired. Kinda embarrassing."),
]

JUNK = {"kinda", "wanna", "called", "tuesday", "three", "priya", "yeah", "like"}


def test_theme_labels_are_topics_not_junk():
    themes = get_engine("local").build(segs(NOISY)).themes
    labels = [t.label for t in themes]
    assert "Sleep" in labels and "Work" in labels
    for label in labels:
        assert not set(label.lower().split()) & JUNK, label


def test_themes_come_heaviest_first():
    themes = get_engine("local").build(segs(NOISY)).themes
    shares = [t.share for t in themes]
    assert shares == sorted(shares, reverse=True)
    assert themes[0].label == "Sleep"


def test_a_noun_the_session_keeps_returning_to_is_a_theme_but_a_name_is_not():
    lines = []
    for i in range(4):
        lines.append(("client", f"The allotment is going badly, week {i}, and Daniel keeps calling."))
        lines.append(("therapist", "Tell me more about the allotment."))
    labels = {t.label for t in get_engine("local").build(segs(lines)).themes}
    assert "Allotment" in labels
    assert "Daniel" not in labels


def test_teeth_and_the_dentist_are_dental_health_and_idioms_are_not():
    assert T.topic_hits("My gums bleed and the dentist says I need a root canal")["dental_health"][0] >= 2
    assert T.topic_hits("I have a sweet tooth for chocolate").get("dental_health", (0, 0))[0] == 0
