# Sample dialogue reads best one utterance per line.
# ruff: noqa: E501
"""Composition: clauses written to the person, with hedges gone and the right pronouns."""

import pytest

from recaps.engines import compose as C


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("I mean, maybe I'll have a drink on Friday.", "maybe you'll have a drink on Friday."),
        ("I guess I was scared of being seen as lazy.", "you were scared of being seen as lazy."),
        ("Um, you know, I-I keep waking up at three.", "you keep waking up at three."),
        ("Like I said, I don't want to hurt my body.", "you don't want to hurt your body."),
        ("Honestly, I think I'm ready to try.", "you're ready to try."),
    ],
)
def test_hedges_go_before_pronouns_are_swapped(said, written):
    out = C.second_person(C.strip_hedges(said))
    assert out == written
    # Never a swapped hedge ("You mean", "you guess").
    assert "you mean" not in out.lower() and "you guess" not in out.lower()


@pytest.mark.parametrize(
    "clause",
    [
        "you told me to try it",  # "you" is the therapist here
        "we could go together",  # a "we" the recap cannot name
        "let's see how it goes",
    ],
)
def test_client_clauses_that_cannot_be_turned_to_you_are_refused(clause):
    assert C.second_person(clause) is None


@pytest.mark.parametrize(
    ("said", "step"),
    [
        ("I'd like you to write a letter to your dad.", "Write a letter to your dad"),
        (
            "For the nights, I'd like you to try a wind-down routine this week.",
            "Try a wind-down routine this week",
        ),
        ("Could you use an old alarm clock instead?", "Use an old alarm clock instead"),
        (
            "And if you wake up at three, instead of reaching for the phone, do the breathing again.",
            "Do the breathing again, if you wake up at three",
        ),
        (
            "At ten o'clock, put your phone on charge in the kitchen.",
            "Put your phone on charge in the kitchen, at ten o'clock",
        ),
        (
            "For the yes, this week, try saying let me check my calendar before you agree to anything new.",
            "Try saying “Let me check my calendar” before you agree to anything new",
        ),
        (
            "What if you kept your phone out of the bedroom and used a timer?",
            "Keep your phone out of the bedroom and use a timer",
        ),
        (
            "Well, one good option would be to just review with them review with them the bad things.",
            "Review with them the bad things",
        ),
        (
            "That's what I'd like you to do is to experiment with getting up earlier and, um-- You know, 'cause it matters.",
            "Experiment with getting up earlier",
        ),
        ("I suggest you take a short walk after lunch each day.", "Take a short walk after lunch each day"),
    ],
)
def test_suggestions_become_things_to_do(said, step):
    assert C.imperative(said) == step


@pytest.mark.parametrize(
    "said",
    [
        "Panic has become the engine that gets you started.",  # a noun, not an instruction
        "You could get into an auto crash.",  # a warning
        "I'd like us to look at what we talked about last week.",  # the therapist's own "we"
        "How does that feel to say?",
        "To tell you, it sounds terrible, actually.",  # an aside to the listener
    ],
)
def test_what_is_not_a_suggestion_is_refused(said):
    assert C.imperative(said) is None


@pytest.mark.parametrize(
    "clause",
    [
        "you get irritable and",
        "notice what happens in your",
        "you said you'd go but-",
        "you'd in terms of respecting yourself",  # a self-correction
        "you're gonna impact your po- health",  # a word broken off
        "you said [inaudible] again",
    ],
)
def test_unfinished_or_broken_clauses_are_not_used(clause):
    assert not C.usable(clause)


def test_a_clause_with_an_unsure_word_is_not_used():
    assert C.usable("you want to cut down on drinks")
    assert not C.usable("you want to cut down on drinks", unsure=frozenset({"drinks"}))


def test_unsure_words_come_from_spans():
    text = "I want to cut down on drinks."
    assert C.unsure_words(text, ((22, 28),)) == frozenset({"drinks"})
    assert C.content_only(frozenset({"the", "drinks", "my"})) == frozenset({"drinks"})


def test_vocatives_are_not_content():
    assert (
        C.strip_vocatives("Well, Ruth, it sounds like you're tired.") == "Well, it sounds like you're tired."
    )
    assert C.strip_vocatives("See you next week, Sam.") == "See you next week."


def test_a_particle_after_its_verb_ends_a_phrase_a_preposition_does_not():
    assert C.ends_whole("if there is something going on")
    assert C.ends_whole("turn it off")
    assert not C.ends_whole("I was thinking of")
    assert not C.ends_whole("you went into the")


def test_recommendation_leads_are_not_part_of_the_ask():
    assert C.imperative("My suggestion is that you write it down every night.") == "Write it down every night"
    assert (
        C.imperative("How would you feel about cutting down to two drinks a night?")
        == "Cut down to two drinks a night"
    )
    assert (
        C.imperative("What would you think about trying it for say two or three months?")
        == "Try it for two or three months"
    )


def test_i_have_to_say_is_a_run_up_unless_it_is_the_plan():
    assert (
        C.strip_hedges("I have to say I was worried that I would not cope.")
        == "I was worried that I would not cope."
    )
    assert C.strip_hedges("I have to say no to him.") == "I have to say no to him."
