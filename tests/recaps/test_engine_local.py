# Sample dialogue reads best one utterance per line.
# ruff: noqa: E501
"""The local recap engine: pure Python, no Django, no database.

Fixtures in transcripts/ are hand-written sessions (speaker, start, end, text) with the kind of noise
faster-whisper produces: fillers, stutters, "[MUSIC]", "Thanks for watching!".
"""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from recaps.engines import (
    Moment,
    RecapResult,
    Section,
    Segment,
    SourcedText,
    Theme,
    get_engine,
    validate,
)
from recaps.engines.text import clean_sentences, clean_text

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def load(name: str) -> list[Segment]:
    return [Segment.from_dict(d) for d in json.loads((TRANSCRIPTS / f"{name}.json").read_text())]


_CACHE: dict[str, RecapResult] = {}


def recap(name: str) -> RecapResult:
    # Each build takes a fraction of a second; building each fixture once keeps the file fast on
    # a shared 2-core machine.
    if name not in _CACHE:
        _CACHE[name] = get_engine("local").build(load(name))
    return _CACHE[name]


def texts(items) -> str:
    return "\n".join(i.text for i in items).lower()


ALL = ["work_sleep", "grief_parent", "adhd_routines", "long_session"]


# --- golden content: the hand-written sessions ----------------------------------------------------------


def test_work_sleep_next_steps_are_what_was_agreed_with_their_details():
    steps = [s.text for s in recap("work_sleep").next_steps]
    joined = "\n".join(steps).lower()
    # The wind-down routine, with the what, the when and the how from the same breath.
    assert (
        "wind-down routine" in joined
        and "phone on charge in the kitchen" in joined
        and "ten o'clock" in joined
    )
    assert "old alarm clock" in joined
    assert "notepad next to the bed" in joined
    assert "“let me check my calendar" in joined  # the words to say, as the client's own
    assert "ask your manager" in joined
    for step in steps:
        assert "?" not in step
        assert not step.lower().startswith(("you don't", "you tell yourself", "would you"))


def test_work_sleep_questions_for_next_time_are_the_clients_not_the_therapists():
    questions = texts(recap("work_sleep").questions)
    assert "guilty about rest" in questions
    for asked_in_session in ("what's usually on the list", "what do you notice", "how does that feel"):
        assert asked_in_session not in questions


def test_work_sleep_realisations_are_the_clients_own_and_say_so():
    insights = [i.text for i in recap("work_sleep").insights]
    assert any("say yes to everything" in i for i in insights)
    assert all(i.startswith(("You ", "Your therapist reflected")) for i in insights)


def test_work_sleep_summary_says_what_it_was_about_realised_and_decided():
    summary = [s.text for s in recap("work_sleep").summary]
    assert 3 <= len(summary) <= 6
    assert summary[0].startswith("This session was about") and "work" in summary[0] and "sleep" in summary[0]
    assert any(s.startswith("You realised") for s in summary)
    assert any(s.startswith(("You decided", "You agreed")) for s in summary)


def test_grief_session():
    result = recap("grief_parent")
    steps = texts(result.next_steps)
    assert "letter to your dad" in steps and "sunday morning" in steps
    assert "grieve dad" in texts(result.insights)
    assert {"Grief and loss", "Family"} <= {t.label for t in result.themes}
    assert "can't come every weekend" in texts(result.questions)


def test_adhd_session():
    result = recap("adhd_routines")
    steps = texts(result.next_steps)
    assert "launch pad" in steps and "this weekend" in steps
    assert "first coffee" in steps and "kettle" in steps
    assert "co-work" in steps
    assert "only start things when you're panicking" in texts(result.insights)
    # The therapist greets the client by name: a name is not a theme.
    assert "jordan" not in {t.label.lower() for t in result.themes}
    # "I don't want to live in panic mode" is about panic, not about dying.
    assert result.safety is None


def test_long_session_over_45_minutes_of_speech():
    segments = load("long_session")
    assert sum(s.end - s.start for s in segments) > 45 * 60
    result = recap("long_session")
    steps = texts(result.next_steps)
    assert "gp" in steps and "tomorrow morning" in steps  # the step and its when, together
    assert "breathing twice a day" in steps
    assert "supermarket" in texts(result.questions) and "mum" in texts(result.questions)
    assert result.stats.speech_s["client"] > 0 and result.stats.speech_s["therapist"] > 0


def test_hallucination_lines_never_reach_the_recap():
    dumped = json.dumps(recap("work_sleep").to_dict()).lower()
    assert "thanks for watching" not in dumped
    assert "[music]" not in dumped
    assert "[laughs]" not in dumped


# --- who said it ------------------------------------------------------------------------------------

_THERAPIST_CLAIM = re.compile(r"\byour therapist\b", re.I)
_CLIENT_CLAIM = re.compile(r"^You(?:'| )|\bYou (?:realised|noticed|said|decided|want|agreed)\b")


def _speakers(segments, sources):
    by_start = {s.start: s.speaker for s in segments}
    return {by_start[x] for x in sources}


@pytest.mark.parametrize("name", ALL)
def test_every_line_names_the_speaker_it_came_from(name):
    segments = load(name)
    result = recap(name)
    items = [*result.summary, *result.insights, *result.next_steps, *result.questions]
    checked = 0
    for item in items:
        speakers = _speakers(segments, item.sources)
        for sentence in re.split(r"(?<=[.!?”])\s+", item.text):
            if _THERAPIST_CLAIM.search(sentence):
                assert "therapist" in speakers, item.text
                checked += 1
            elif _CLIENT_CLAIM.search(sentence):
                assert "client" in speakers, item.text
                checked += 1
    for moment in result.moments:
        speaker = _speakers(segments, [moment.offset]).pop()
        assert moment.speaker == speaker
        assert moment.reflection.startswith("Your therapist") == (speaker == "therapist"), moment
    assert checked >= 5


@pytest.mark.parametrize("name", ALL)
def test_summary_paraphrases_and_never_copies_a_long_run(name):
    segments = load(name)

    def norm(text):
        words = re.findall(r"[a-z']+", text.lower())
        swap = {"i": "P", "you": "P", "me": "P", "my": "Q", "your": "Q", "i'm": "R", "you're": "R"}
        return [swap.get(w, w) for w in words]

    utterances = [norm(s.text) for s in segments]
    grams = {tuple(u[i : i + 12]) for u in utterances for i in range(len(u) - 11)}
    for item in recap(name).summary:
        assert "You said: " not in item.text and "'" + "…" not in item.text
        words = norm(item.text)
        assert not any(tuple(words[i : i + 12]) in grams for i in range(len(words) - 11)), item.text


def test_hedges_are_dropped_never_swapped():
    result = get_engine("local").build(
        [
            Segment(
                speaker="therapist", start=0.0, end=3.0, text="What would you like to do about the weekends?"
            ),
            Segment(
                speaker="client",
                start=4.0,
                end=9.0,
                text="I mean, I guess I'll have one drink on Friday and stop there.",
            ),
            Segment(speaker="therapist", start=10.0, end=13.0, text="That sounds like a clear plan."),
            Segment(speaker="client", start=14.0, end=18.0, text="I mean, I think I can do that, you know."),
        ]
    )
    dumped = " ".join(s.text for s in [*result.summary, *result.next_steps, *result.insights]).lower()
    assert "one drink on friday" in dumped
    assert "you mean" not in dumped and "you guess" not in dumped and "you know" not in dumped


def test_words_the_recogniser_was_unsure_of_are_never_quoted():
    text = "I realised that I drink to cope with the night shifts at the hospital."
    at = text.index("hospital")
    segments = [
        Segment(speaker="therapist", start=0.0, end=3.0, text="What did you notice this week?"),
        Segment(speaker="client", start=4.0, end=9.0, text=text, unsure=((at, at + len("hospital")),)),
        Segment(
            speaker="therapist",
            start=10.0,
            end=13.0,
            text="It sounds like the drinking became a way through the nights.",
        ),
        Segment(
            speaker="client",
            start=14.0,
            end=18.0,
            text="I'm going to talk to my manager about fewer night shifts.",
        ),
    ]
    dumped = json.dumps(get_engine("local").build(segments).to_dict()).lower()
    assert "hospital" not in dumped
    # A whole segment the recogniser doubted (avg_logprob below -1) is not quoted either.
    doubtful = [replace(s, avg_logprob=-1.4) if s.start == 4.0 else s for s in segments]
    dumped = json.dumps(get_engine("local").build(doubtful).to_dict()).lower()
    assert "drink to cope" not in dumped


# --- validate ---------------------------------------------------------------------------------------


def test_validate_drops_items_whose_sources_match_no_segment():
    segments = [
        Segment(speaker="client", start=0.0, end=4.0, text="I want to sleep better."),
        Segment(speaker="therapist", start=5.5, end=9.0, text="This week, try a wind-down routine."),
    ]
    result = RecapResult(
        summary=[
            SourcedText(text="You talked about sleep.", sources=[0.0]),
            SourcedText(text="Invented.", sources=[3.0]),  # no segment starts at 3.0
            SourcedText(text="Half invented.", sources=[0.0, 42.0]),
            SourcedText(text="No sources.", sources=[]),
        ],
        themes=[
            Theme(label="Sleep", share=1.7, sources=[0.004]),
            Theme(label="Ghost", share=0.1, sources=[99.0]),
        ],
        next_steps=[SourcedText(text="Try a wind-down routine.", sources=[5.505])],
        moments=[
            Moment(reflection="r", quote="q", offset=0.0, sources=[0.0]),
            Moment(reflection="r", quote="q", offset=7.0, sources=[5.5]),  # offset is not a source
        ],
        full_recap=[
            Section(title="Opening", paragraphs=[SourcedText(text="p", sources=[12.0])]),
            Section(title="Closing", paragraphs=[SourcedText(text="p", sources=[5.5])]),
        ],
    )
    valid = validate(result, segments)
    assert [s.text for s in valid.summary] == ["You talked about sleep."]
    assert [t.label for t in valid.themes] == ["Sleep"]
    assert valid.themes[0].share == 1.0  # clamped
    assert valid.themes[0].sources == [0.0]  # snapped to the exact start
    assert valid.next_steps[0].sources == [5.5]
    assert [m.offset for m in valid.moments] == [0.0]
    assert [s.title for s in valid.full_recap] == ["Closing"]
    assert valid.stats.segments == 2


def test_validate_enforces_section_caps():
    segments = [Segment(speaker="client", start=float(i), end=i + 0.5, text=f"Line {i}.") for i in range(20)]
    many = [SourcedText(text=f"Item {i}.", sources=[float(i)]) for i in range(20)]
    moments = [Moment(reflection="r", quote=f"q{i}", offset=float(i), sources=[float(i)]) for i in range(20)]
    valid = validate(RecapResult(summary=many, moments=moments, next_steps=many), segments)
    assert len(valid.summary) == 6
    assert len(valid.moments) == 7
    assert len(valid.next_steps) == 8


def test_get_engine_always_validates():
    class Sloppy:
        name = "sloppy"

        def build(self, segments):
            return RecapResult(summary=[SourcedText(text="Made up.", sources=[123.0])])

    from recaps.engines import base

    wrapped = base._ValidatedEngine(Sloppy())
    result = wrapped.build([Segment(speaker="client", start=0.0, end=1.0, text="Hello there.")])
    assert result.summary == []
    assert result.engine == "sloppy"
    with pytest.raises(ValueError):
        get_engine("nope")


# --- cleaning ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("um, I I think, uh", "I think"),
        ("I keep waking up at, like, three in the morning.", "I keep waking up at three in the morning."),
        ("And then I drink, you know, four coffees.", "And then I drink four coffees."),
        ("Part of me is, uh, angry.", "Part of me is angry."),
        ("I-I-I just can't.", "I just can't."),
        ("So it's, uh, it's three jobs.", "So it's three jobs."),
        ("I know that that's true.", "I know that that's true."),  # grammatical doubling stays
        ("I like it, you know what I mean?", "I like it, you know what I mean?"),  # not a filler here
        ("Yeah. [laughs] That sounds dramatic.", "Yeah. That sounds dramatic."),
        ("Thank you. This helped.", "Thank you. This helped."),  # real thanks stay
    ],
)
def test_filler_cleaning(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "line",
    [
        "Thanks for watching!",
        "Thank you for watching.",
        "[MUSIC]",
        "♪ ♪",
        "Subtitles by the Amara.org community",
        "you",
    ],
)
def test_hallucination_lines_are_dropped(line):
    assert clean_sentences(line) == []


def test_repetition_loop_collapses():
    assert clean_sentences("I'm so tired. I'm so tired. I'm so tired.") == ["I'm so tired."]


# --- edge cases -------------------------------------------------------------------------------------


def test_empty_transcript_gives_a_valid_minimal_recap():
    result = get_engine("local").build([])
    assert result.summary == [] and result.themes == [] and result.moments == []
    assert result.stats.segments == 0 and result.stats.duration_s == 0
    assert "Session Summary" in result.to_markdown()
    assert RecapResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_only_noise_gives_a_valid_minimal_recap():
    segments = [
        Segment(speaker="therapist", start=0.0, end=2.0, text="[MUSIC]"),
        Segment(speaker="client", start=3.0, end=4.0, text="Thanks for watching!"),
        Segment(speaker="client", start=5.0, end=6.0, text="Um, uh."),
    ]
    result = get_engine("local").build(segments)
    assert result.summary == [] and result.next_steps == []
    assert result.stats.segments == 3
    assert result.stats.words == {"client": 0, "therapist": 0, "unknown": 0}


def test_unknown_and_odd_speakers_are_handled():
    segments = [
        Segment(speaker=s, start=i * 10.0, end=i * 10.0 + 8, text=text)
        for i, (s, text) in enumerate(
            [
                ("speaker_0", "I keep worrying about my exams and I can't sleep before them."),
                ("", "It sounds like the exams are keeping you awake at night."),
                ("Client", "I realised I revise until two in the morning because I'm scared of failing."),
                (
                    "THERAPIST",
                    "This week, try stopping revision at ten and writing tomorrow's plan on paper.",
                ),
                ("unknown", "I'm going to stop revising at ten every night this week."),
            ]
        )
    ]
    result = get_engine("local").build(segments)
    assert result.stats.speech_s["unknown"] > 0
    assert result.stats.speech_s["client"] > 0 and result.stats.speech_s["therapist"] > 0
    assert "stopping revision at ten" in texts(result.next_steps)
    assert "you revise until two in the morning" in texts(result.insights)
    assert 3 <= len(result.summary) <= 6


def test_one_channel_for_both_voices_is_written_neutrally():
    lines = [
        "I keep worrying about my exams and I can't sleep before them.",
        "It sounds like the exams are keeping you awake at night.",
        "I realised I revise until two in the morning because I'm scared of failing.",
        "This week, try stopping revision at ten and writing tomorrow's plan on paper.",
        "I'm going to stop revising at ten every night this week.",
    ]
    segments = [
        Segment(speaker="unknown", start=i * 10.0, end=i * 10.0 + 8, text=t) for i, t in enumerate(lines)
    ]
    result = get_engine("local").build(segments)
    said = " ".join(s.text for s in [*result.summary, *result.insights])
    assert "Your therapist" not in said and "You said" not in said and "You realised" not in said
    assert all(m.reflection == "From the session" for m in result.moments)


def test_unsorted_input_and_dict_segments():
    segments = load("grief_parent")
    shuffled = list(reversed(segments))
    assert get_engine("local").build(shuffled).to_dict() == recap("grief_parent").to_dict()
    assert Segment.from_dict({"speaker": "Therapist", "start": "1.5", "text": "Hi"}).speaker == "therapist"


# --- serialisation and export ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_to_dict_from_dict_round_trip(name):
    result = recap(name)
    data = json.loads(json.dumps(result.to_dict()))
    assert RecapResult.from_dict(data) == result
    assert list(data) == [
        "schema",
        "engine",
        "summary",
        "themes",
        "insights",
        "next_steps",
        "questions",
        "moments",
        "full_recap",
        "stats",
        "safety",
    ]
    assert data["engine"] == "local" and data["schema"] == 2


def test_a_schema_1_recap_still_loads():
    old = {
        "schema": 1,
        "engine": "local",
        "summary": [{"text": "You talked about sleep.", "sources": [0.0]}],
        "themes": [{"label": "Sleep", "share": 0.5, "sources": [0.0]}],
        "moments": [
            {"reflection": "Something you said.", "quote": "I can't sleep.", "offset": 0.0, "sources": [0.0]}
        ],
        "full_recap": [{"title": "Main threads", "paragraphs": [{"text": "p", "sources": [0.0]}]}],
        "stats": {"duration_s": 60.0},
    }
    result = RecapResult.from_dict(old)
    assert result.schema == 1 and result.safety is None
    assert result.moments[0].kind == "" and result.moments[0].speaker == ""
    assert "## Moments" in result.to_markdown()
    assert RecapResult.from_dict({"summary": []}).schema == 1  # unversioned means the first version


def test_from_dict_tolerates_extra_stats_keys():
    data = recap("work_sleep").to_dict()
    data["stats"]["recorded_s"] = 420.0  # added by the recap service
    assert RecapResult.from_dict(data).stats == recap("work_sleep").stats


def test_to_markdown_has_the_headings():
    md = recap("work_sleep").to_markdown()
    for heading in (
        "## Session Summary",
        "## Themes",
        "## Key insights",
        "## Next steps",
        "## Questions for next time",
        "## Moments",
        "## Full recap",
        "### Opening",
        "### The plan",
        "### Closing",
    ):
        assert heading in md
    assert "wind-down routine" in md
    assert "% of the session" not in md  # themes are listed heaviest first, without a percentage


def test_to_markdown_neutralises_markdown_in_text():
    segments = [Segment(speaker="client", start=0.0, end=1.0, text="x")]
    result = replace(
        RecapResult(), summary=[SourcedText(text="# not a heading\n\n> nor a quote", sources=[0.0])]
    )
    md = validate(result, segments).to_markdown()
    assert "\n# not a heading" not in md


@pytest.mark.parametrize(
    ("asked", "reported"),
    [
        (
            "What would you like to change about your drinking?",
            "what you would like to change about your drinking",
        ),
        ("How do you feel about cutting down?", "how you feel about cutting down"),
        ("What keeps you at work so late?", None),  # a subject question: left alone, not garbled
    ],
)
def test_a_therapist_question_is_reported_in_plain_word_order(asked, reported):
    from recaps.engines.local import _embedded_question

    assert _embedded_question(asked) == reported


def test_a_sentence_broken_off_is_never_used_as_if_whole():
    assert clean_sentences("I'll maybe have a look at my schedule, see whether anything-") == [
        "I'll maybe have a look at my schedule, see whether anything…"
    ]
    result = get_engine("local").build(
        [
            Segment(speaker="therapist", start=0.0, end=3.0, text="What could you do this week?"),
            Segment(
                speaker="client",
                start=4.0,
                end=9.0,
                text="I'll maybe have a look at my schedule, see whether anything-",
            ),
        ]
    )
    assert "whether anything" not in json.dumps(result.to_dict())


def _steps(*turns: tuple[str, str]) -> list[str]:
    segments = [
        Segment(speaker=speaker, start=float(i * 10), end=float(i * 10 + 8), text=text)
        for i, (speaker, text) in enumerate(turns)
    ]
    return [s.text for s in get_engine("local").build(segments).next_steps]


def test_the_answer_to_a_planning_question_is_a_step_in_plain_words():
    steps = _steps(
        ("therapist", "How has the week been with the cigarettes?"),
        ("client", "Better. I marked every one down on the packet."),
        ("therapist", "So, from now to the next time you come back, what is it that you'd like to work on?"),
        ("client", "What I'd like to do is go down to five cigarettes a day."),
        ("therapist", "When would it be good for you to come back and talk about this?"),
        ("client", "I wouldn't mind coming back in a week."),
    )
    joined = "\n".join(steps)
    assert "You'd like to go down to five cigarettes a day." in steps, steps
    assert "come back in a week" in joined
    # The therapist's question is not turned into a step, even with its answer agreeing.
    assert "When would" not in joined and "when would" not in joined


def test_advice_taken_up_in_the_clients_words_is_a_step():
    steps = _steps(
        ("client", "If there are cigarettes in the house, it just happens."),
        ("therapist", "You need to go home and throw out those cigarettes."),
        ("client", "Okay. I guess I can throw the cigarettes out tonight."),
        ("therapist", "Good. And how is your son sleeping?"),
        ("client", "Much better since the new medicine."),
    )
    assert any("throw" in s and "cigarettes" in s for s in steps), steps


def test_a_plan_that_broke_off_is_not_a_step():
    steps = _steps(
        ("therapist", "I really think you should think about making a big change here."),
        ("client", "Yeah. I guess I can put more effort into lowering the level of drinking that-"),
        ("therapist", "Mm-hmm."),
    )
    assert not any("drinking that" in s for s in steps), steps


def test_meeting_again_is_one_step_and_a_farewell_is_not():
    steps = _steps(
        ("therapist", "How has the drinking been this month?"),
        ("client", "Too much. I want to cut down to weekends only."),
        (
            "therapist",
            "That's a clear goal. Let's plan to follow up in a few weeks so we can see how it's going.",
        ),
        ("client", "Okay, sounds good."),
    )
    assert "See your therapist again in a few weeks to talk about how it's going." in steps, steps
    steps = _steps(
        ("client", "I want to cut down to weekends only."),
        ("therapist", "Thanks for coming in. See you next time."),
        ("client", "Bye."),
    )
    assert not any("again" in s for s in steps), steps


def test_a_request_for_help_that_the_therapist_accepts_is_a_step():
    steps = _steps(
        ("therapist", "How can I help you with these things?"),
        ("client", "Can you help me make the call to the clinic?"),
        ("therapist", "Sure, we can do that together."),
    )
    assert "Make the call to the clinic, with your therapist's help." in steps, steps
    steps = _steps(
        ("client", "Can you help me make the call to the clinic?"),
        ("therapist", "I can't do that, but I can give you the number."),
    )
    assert not any("call to the clinic" in s for s in steps), steps


def test_a_wish_in_answer_to_a_planning_question_is_a_step_without_the_comment():
    steps = _steps(
        ("therapist", "What would be helpful as far as next steps?"),
        (
            "client",
            "Well, first things first, if I could take a brochure home, show it to my partner and get their support I think that's really gonna help me.",
        ),
    )
    assert "Take a brochure home and show it to your partner and get their support." in steps, steps


def test_a_plan_summary_cut_in_two_by_a_yes_is_read_whole():
    steps = _steps(
        ("therapist", "So, you sort of have a plan to cut back on-"),
        ("client", "Yeah, definitely."),
        ("therapist", "-your drinking eventually?"),
        ("client", "For sure."),
    )
    assert "You have a plan to cut back on your drinking eventually." in steps, steps


def test_when_to_start_joins_the_plan_it_belongs_to():
    steps = _steps(
        ("therapist", "So how could you respond instead?"),
        ("client", "Just go to bed and turn off the lights."),
        ("therapist", "What a great plan and you said you're going to start tomorrow."),
        ("client", "I'll give it a try."),
    )
    assert "Go to bed and turn off the lights, starting tomorrow." in steps, steps


def test_an_ask_with_how_inside_it_is_still_an_ask():
    steps = _steps(
        ("therapist", "And on Sunday, could you tell your father one true thing about how work is going?"),
        ("client", "That feels scary, but yes, I will try to tell him on Sunday."),
    )
    assert "Tell your father one true thing about how work is going, on Sunday." in steps, steps


def _build(*turns: tuple[str, str]) -> RecapResult:
    segments = [
        Segment(speaker=speaker, start=float(i * 10), end=float(i * 10 + 8), text=text)
        for i, (speaker, text) in enumerate(turns)
    ]
    return get_engine("local").build(segments)


def test_advice_after_a_run_up_is_a_step_once_taken_up():
    steps = _steps(
        ("client", "My friends still drink every weekend and I don't want that anymore."),
        (
            "therapist",
            "So I think just tell your friends you know, you realized there's always bad things about it and you don't want to do it anymore, so you're just not going to.",
        ),
        ("client", "Okay. I think I can do that."),
    )
    assert (
        "Tell your friends you realized there's always bad things about it and you don't want to do it anymore."
        in steps
    ), steps


def test_several_promises_in_one_breath_are_one_step_in_order():
    steps = _steps(
        ("therapist", "There's patches, there's gum, there are quit smoking groups you can go to."),
        ("client", "It's a lot."),
        ("therapist", "I really need you to tell me that you're gonna quit smoking."),
        (
            "client",
            "I'll-I'll go look at all those things and I'll find-- I guess I'll try to find something, and I'll talk to my doctor about it.",
        ),
    )
    assert (
        "You'll go look at all those things, try to find something and talk to your doctor about it." in steps
    ), steps


def test_life_plans_told_early_are_the_story_not_a_step():
    turns = [
        ("therapist", "And what are your plans for after high school?"),
        ("client", "Well, I'm planning on going to school. I'd like to become a doctor one day."),
    ]
    # The rest of the session: long enough that the answer above sits in its first minutes.
    turns += [
        ("therapist", "Tell me more about the weekends."),
        ("client", "We go to parties and there's always beer around."),
    ] * 6
    turns += [
        ("therapist", "What would you like to do about the drinking?"),
        ("client", "I'm going to stop drinking at parties, starting this weekend."),
    ]
    steps = _steps(*turns)
    assert not any("school" in s.lower() for s in steps), steps
    assert any("stop drinking at parties" in s for s in steps), steps


def test_what_the_therapist_recommends_after_a_long_lead_is_the_ask():
    steps = _steps(
        ("client", "How would you advise me to get my friends to stop offering me drinks?"),
        (
            "therapist",
            "So some of the things that I would recommend since you're interested are carrying around a different drink that looks like it has alcohol in it.",
        ),
        ("client", "Yeah, that's a good idea."),
    )
    assert "Carry around a different drink that looks like it has alcohol in it." in steps, steps


def test_a_proposal_met_with_an_objection_is_in_the_summary_and_not_a_step():
    result = _build(
        # The proposal comes in the second half, where a session makes its plans.
        ("client", "The pain is still there every day and the tests never find anything."),
        ("therapist", "That sounds exhausting, four years of it."),
        ("client", "I can't do the things I used to do."),
        ("therapist", "Your life has shrunk down."),
        ("client", "It has, and my husband is away a lot."),
        ("therapist", "Given that we've tried medication and tests, I wonder about something else."),
        (
            "therapist",
            "What would you think about trying a slightly different approach for say two or three months, just to see whether it makes any difference?",
        ),
        ("client", "Well, two or three months is a long time if there is something going on."),
        ("therapist", "Right."),
        ("therapist", "Perhaps if you could bring your tablets in, we can look at them together."),
        ("client", "Okay. I'll make a list of the tablets that I'm taking."),
    )
    summary = " ".join(s.text for s in result.summary)
    assert (
        "Your therapist suggested you try a slightly different approach for two or three months; you said two or three months is a long time if there is something going on."
        in summary
    ), summary
    assert not any("approach" in s.text for s in result.next_steps), result.next_steps
    assert any("list of the tablets" in s.text for s in result.next_steps), result.next_steps


def test_a_step_takes_its_when_but_not_a_past_time_or_another_plan():
    steps = _steps(
        ("therapist", "When he has a cold, keep him hydrated and avoid smoke around him."),
        ("client", "Okay. A couple of weeks ago he had one."),
    )
    assert steps == ["Keep him hydrated and avoid smoke around him, when he has a cold."], steps
    steps = _steps(
        ("therapist", "Perhaps if you could bring your tablets in, we can look at them."),
        ("client", "Okay. Well, to make an appointment for next week."),
    )
    assert steps == ["Bring your tablets in."], steps


def test_a_recognised_topic_is_never_pushed_out_of_themes_by_a_session_noun():
    turns = [
        ("client", "My job is boring and my boss shouts at me."),
        ("client", "School was never my thing, I left college early."),
        ("client", "My mum and my dad still live in the same house."),
        ("client", "I feel guilty about letting my family down, so much guilt."),
    ] * 2
    for _ in range(5):
        turns += [
            ("client", "I fixed cars at the polytech and the cars were great, cars all day."),
            ("therapist", "Cars and the polytech."),
        ]
    turns += [
        ("client", "I have to go to court again next month because of my probation."),
        ("therapist", "Court is hard."),
    ]
    labels = [t.label for t in _build(*turns).themes]
    assert "Law and probation" in labels, labels


def test_a_session_noun_a_chosen_topic_already_names_is_not_a_second_theme():
    labels = [
        t.label
        for t in _build(
            ("therapist", "How has your physical health been since the illness?"),
            (
                "client",
                "My health is not good. The illness took a lot out of me and my health is slow to come back.",
            ),
            ("therapist", "Your health has been a long worry."),
            ("client", "Yes, my health and my sleep. Since the illness I sleep badly."),
            ("therapist", "What would help your health most?"),
            ("client", "Walking more, for my health, I think."),
        ).themes
    ]
    assert "Physical health" in labels and "Health" not in labels, labels


def test_going_to_bed_is_sleep_and_a_snoozed_alarm_alone_is_not():
    labels = [
        t.label
        for t in _build(
            ("therapist", "What time would you have to go to bed to be up by 6:15?"),
            ("client", "I'd go to bed at 11:00 and then get up on time for school."),
            ("therapist", "Going to bed at 11:00, then."),
        ).themes
    ]
    assert "Sleep" in labels, labels
    labels = [
        t.label
        for t in _build(
            ("client", "My alarm goes off at seven and I snooze it four times, then I'm late for work."),
            ("therapist", "Mornings are a rush before work."),
        ).themes
    ]
    assert "Sleep" not in labels, labels


def test_a_short_summary_is_filled_with_lines_that_say_something_new():
    # The line that named the topic is still worth a sentence of its own.
    lines = [
        s.text
        for s in _build(
            ("therapist", "What brings you in?"),
            ("client", "I want to stop smoking for good this year."),
            ("therapist", "Okay."),
        ).summary
    ]
    assert any("stop smoking for good" in line for line in lines), lines
    result = _build(
        ("therapist", "How are things with the smoking?"),
        ("client", "I don't smoke around him. I try really hard not to smoke around him."),
        ("therapist", "You protect him."),
        ("client", "I'm like, I'm not a complete fool. I want to get my teeth fixed at the dentist."),
        ("therapist", "Your teeth matter to you."),
    )
    lines = [s.text for s in result.summary]
    assert not any("like," in line or "fool" in line for line in lines), lines
    around_him = [line for line in lines if "around him" in line]
    assert len(around_him) <= 1, lines


def test_a_clause_under_a_wish_is_never_cut_loose_to_say_the_opposite():
    result = _build(
        ("therapist", "What would you like for yourself?"),
        (
            "client",
            "I'd like to just be normal where I don't have to take medicine, and I don't end up in the hospital three times a year.",
        ),
        ("therapist", "You want a life without the hospital stays."),
    )
    lines = [s.text for s in result.summary] + [p.text for sec in result.full_recap for p in sec.paragraphs]
    assert not any(re.search(r"\byou don't end up in the hospital", line, re.I) for line in lines), lines
