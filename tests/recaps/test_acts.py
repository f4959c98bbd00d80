"""The dialogue-act layer: what each sentence does, who said it, and what negates or hedges it."""

import pytest

from recaps.engines.acts import tag_client, tag_sentences, tag_therapist, tag_turns


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("What's usually on the list?", "question_open"),
        ("How did that go for him?", "question_open"),
        ("Tell me more about the nights.", "question_open"),
        ("Do you drink most days?", "question_closed"),
        ("Is that something you'd be open to?", "question_closed"),
        ("It sounds like the sleep and the work pressure are feeding each other.", "reflection_complex"),
        ("Part of you wants to stop and part of you is scared to.", "reflection_complex"),
        ("You're tired.", "reflection_simple"),
        ("I'd like you to write a letter to your dad.", "advice"),
        ("I suggest you take a short walk after lunch each day.", "advice"),
        ("I also recommend that you keep a sleep diary.", "advice"),
        ("You need to book an appointment with your GP.", "advice"),
        ("Could you use an old alarm clock instead?", "advice"),
        ("Some people find it helps to walk after dinner.", "options"),
        ("Would you be willing to cut down to three nights a week?", "negotiation"),
        ("What would that look like for you?", "negotiation"),
        ("How could you respond instead?", "negotiation"),
        # Planning questions ask the client to make the plan, whatever else the sentence does.
        ("From now to the next time you come back, what is it that you'd like to work on?", "negotiation"),
        ("What would it take for you to be a ten?", "negotiation"),
        ("What sort of goal do you want to set?", "negotiation"),
        ("Any thoughts about what concretely you could do to make that happen?", "negotiation"),
        ("Research shows that drinking disrupts deep sleep.", "information"),
        ("Let's come back to the guilt about rest next time.", "deferral"),
        ("That's a great idea.", "affirm"),
    ],
)
def test_therapist_acts(text, act):
    assert act in tag_therapist(text)


@pytest.mark.parametrize(
    "text",
    [
        "So you feel stuck?",  # a reflection said with a rising voice
        "You want things to be different?",
    ],
)
def test_a_rising_reflection_is_not_a_question(text):
    acts = tag_therapist(text)
    assert acts & {"reflection_simple", "reflection_complex"}
    assert not acts & {"question_open", "question_closed"}


def test_a_farewell_is_not_a_deferral():
    assert "deferral" not in tag_therapist("See you next time.")


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("I'm going to ask my manager if someone else can share the work.", "commitment"),
        ("I'll book it tomorrow morning.", "commitment"),
        ("I want to cut down on drinking.", "change"),
        ("I'd like to try to drink less.", "change"),
        ("I've already cut down to two cigarettes a day.", "change"),
        ("It's becoming a problem.", "change"),
        ("I don't want to drink anymore.", "change"),  # a "don't" towards change
        ("I like drinking, it relaxes me.", "sustain"),
        ("I don't think I need to stop.", "sustain"),
        ("I never noticed how much saying yes starts the whole thing.", "realisation"),
        ("I think I realised just now that I say yes to everything.", "realisation"),
        ("I've been feeling really low.", "feeling"),
        ("Is it normal to feel this guilty about rest?", "question"),
        ("Yeah, I can do that.", "agree"),
        ("Can we talk about my mum next time?", "deferral"),
    ],
)
def test_client_acts(text, act):
    acts, _negated, _hypothetical = tag_client(text)
    assert act in acts


@pytest.mark.parametrize(
    "text",
    [
        "I don't think I'm ready to cut down.",
        "I'm not going to stop, it's my body.",
        "I won't be able to do that.",
    ],
)
def test_negation_is_never_a_commitment(text):
    acts, negated, _ = tag_client(text)
    assert "commitment" not in acts
    assert negated or "sustain" in acts


@pytest.mark.parametrize(
    "text",
    [
        "If I stopped drinking I'd probably sleep better.",
        "If I quit, I'll have more money.",
    ],
)
def test_hypotheticals_are_not_commitments(text):
    acts, _negated, hypothetical = tag_client(text)
    assert hypothetical
    assert "commitment" not in acts


def test_a_short_answer_to_a_planning_question_is_change_talk():
    tagged = tag_sentences(
        [
            ("therapist", "What would that look like for you?"),
            ("client", "No more than three drinks on a weekend night."),
        ]
    )
    assert "negotiation" in tagged[0].acts
    assert "change" in tagged[1].acts


def test_a_reply_keeps_its_meaning_without_the_question():
    # The same words after small talk are not a plan.
    tagged = tag_sentences(
        [
            ("therapist", "How was the weekend?"),
            ("client", "No more than three drinks on a weekend night."),
        ]
    )
    assert "change" not in tagged[1].acts


def test_tag_turns_gives_one_set_per_turn():
    turns = [
        ("therapist", "Hi. How has the week been?"),
        ("client", "Honestly, it's been a lot. I want to sleep better."),
    ]
    acts = tag_turns(turns)
    assert len(acts) == 2
    assert "question_open" in acts[0]
    assert "change" in acts[1]


def test_not_minding_is_wanting_not_a_negation():
    acts, negated, _hypothetical = tag_client("I wouldn't mind coming back in a week again.")
    assert "change" in acts
    assert not negated
    acts, negated, _ = tag_client("I wouldn't go back there.")
    assert negated and "change" not in acts


def test_praise_that_opens_with_what_is_not_a_question():
    acts = tag_therapist("What a great plan and you said you're going to start tomorrow.")
    assert not acts & {"question_open", "question_closed"}


def test_an_objection_to_a_proposal_is_sustain_talk_not_change():
    acts, _, _ = tag_client(
        "Well, two or three months is a long time if there is something going on.",
        after_therapist={"negotiation", "question_open"},
    )
    assert "sustain" in acts and "change" not in acts
    acts, _, _ = tag_client("I'd like to cut down to two drinks a night.", after_therapist={"negotiation"})
    assert "change" in acts


def test_what_would_you_think_about_trying_is_a_proposal():
    assert "negotiation" in tag_therapist("What would you think about trying a different approach?")
    assert "negotiation" not in tag_therapist("What do you think about that?")
    assert "options" in tag_therapist("So that might mean giving up an hour's sleep in the morning.")
