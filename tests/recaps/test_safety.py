# Sample dialogue reads best one utterance per line.
# ruff: noqa: E501
"""Self-harm and suicide: named gently when the client speaks of it, a support line, and never a
risk statement that nobody made."""

import json
import re

import pytest

from recaps.engines import Segment, get_engine
from recaps.engines.safety import SUPPORT_LINE, scan

# What a recap must never write: a clinical risk finding nobody said.
RISK_STATEMENT = re.compile(
    r"\bdenies\b|\bno (?:current )?(?:risk|ideation)\b|\blow risk\b|\bnot at risk\b", re.I
)


def session(*lines):
    return [
        Segment(speaker=speaker, start=i * 10.0, end=i * 10.0 + 8, text=text)
        for i, (speaker, text) in enumerate(lines)
    ]


def build(*lines):
    return get_engine("local").build(session(*lines))


def dumped(result) -> str:
    return json.dumps(result.to_dict())


SELF_HARM = (
    ("therapist", "How have things been since we last met?"),
    ("client", "Not good. I've been cutting myself again when it gets too much at home."),
    ("therapist", "It sounds like the cutting is how you get through the worst moments."),
    ("client", "Yeah. And sometimes I think my mum would be better off without me."),
    ("therapist", "Thank you for telling me. Let's make a plan for those moments together."),
    ("client", "Okay. I'll text my sister when it starts, instead of being alone."),
)


def test_the_summary_names_it_and_the_recap_shows_the_support_line():
    result = build(*SELF_HARM)
    summary = " ".join(s.text for s in result.summary)
    assert "self-harm" in summary and "suicide" in summary
    assert result.safety is not None and "988" in result.safety.text
    assert result.safety.text == SUPPORT_LINE
    # It points at where it came up, both times.
    assert set(result.safety.sources) >= {10.0, 30.0}
    assert {"Self-harm", "Suicidal thoughts"} <= {t.label for t in result.themes}
    assert not RISK_STATEMENT.search(dumped(result))


def test_a_denial_brings_the_support_line_but_no_statement_either_way():
    result = build(
        ("therapist", "Sometimes when people feel this low they think about hurting themselves."),
        ("client", "I'd never hurt myself. I just feel flat and tired all the time."),
        ("therapist", "So it's more a flatness than a wish to be gone."),
        ("client", "Yes. I want to get back to running, that used to help."),
    )
    summary = " ".join(s.text for s in result.summary)
    assert "self-harm" not in summary and "suicide" not in summary  # not said as happening
    assert result.safety is not None  # but it came up, so the line is there
    assert not RISK_STATEMENT.search(dumped(result))


def test_a_yes_to_the_therapist_asking_counts_as_the_client_speaking_of_it():
    mentions = scan(
        [
            ("therapist", 0.0, "Have you had thoughts of suicide this week?"),
            ("client", 5.0, "Yes, a couple of times."),
        ]
    )
    assert [(m.kind, m.affirmed, m.start) for m in mentions if m.affirmed] == [("suicide", True, 5.0)]


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to live in panic mode any more.",  # about panic, not about dying
        "I could kill for a coffee right now.",
        "I cut myself a slice of cake.",
    ],
)
def test_everyday_phrases_are_not_mistaken_for_risk(text):
    assert not [m for m in scan([("client", 0.0, text)]) if m.affirmed]


def test_a_session_without_it_has_no_support_line():
    result = build(
        ("therapist", "What would you like to focus on today?"),
        ("client", "My sleep has been awful because of work deadlines."),
        ("therapist", "It sounds like work is following you to bed."),
        ("client", "I'm going to stop checking email after nine this week."),
    )
    assert result.safety is None
    assert "988" not in dumped(result)
