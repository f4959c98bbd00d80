# Sample dialogue reads best one utterance per line.
# ruff: noqa: E501
"""The language-model recap engine against a scripted OpenAI-compatible server, over real HTTP.

No model and no database: tests/recaps/llm_server.py answers each request from a script (a reply, a
malformed reply, a refusal of json_schema output, a slow reply, a 500). What is checked is what the
engine does with the replies: what it keeps, what it drops and why, what it sends, and that nothing of
the transcript or of a reply reaches a log or an exception message.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import socket

import pytest

from recaps.engines.base import RecapResult, Segment, SourcedText
from recaps.engines.llm import LlmEngine
from recaps.engines.llm_client import LlmSettings, LlmUnavailable, Usage, complete_json, schema_errors
from recaps.engines.llm_validate import Voiced, check
from recaps.engines.safety import SUPPORT_LINE
from tests.recaps.llm_server import Malformed, RejectSchema, Reply, ScriptedLlm, Slow, Status

T, C = "therapist", "client"
SEGMENTS = [
    Segment(T, 0.0, 6.0, "Hi Alex, how has the week been since we last met?"),
    Segment(
        C,
        7.0,
        21.0,
        "Honestly, pretty rough. Work has been really stressful with the product launch. I'm exhausted, I'm only sleeping about five hours a night.",
    ),
    Segment(T, 22.0, 30.0, "It sounds like the launch is taking over your evenings as well as your days."),
    Segment(
        C,
        31.0,
        45.0,
        "Yeah, I keep answering emails in bed until midnight, and then my mind races when I turn the light off.",
    ),
    Segment(T, 46.0, 55.0, "What do you notice in your body when your mind starts racing?"),
    Segment(C, 56.0, 66.0, "My shoulders get tight and I feel wired, like I'm still sitting at my desk."),
    Segment(
        T,
        67.0,
        80.0,
        "Part of you wants to rest, and part of you feels like you can't switch off until everything is done.",
    ),
    Segment(
        C, 81.0, 92.0, "Exactly. I realise that checking email in bed is making my sleep worse, not better."
    ),
    Segment(
        T,
        93.0,
        110.0,
        "It might help to have a wind-down routine: stop work at nine thirty, put the laptop away, and do something calm like reading or a warm shower before bed.",
    ),
    Segment(C, 111.0, 122.0, "I think I could try that on weeknights. Weekends are different anyway."),
    Segment(
        T,
        123.0,
        130.0,
        "So the plan is a wind-down routine on weeknights, starting at nine thirty. How does that sound?",
    ),
    Segment(C, 131.0, 140.0, "That sounds doable. I'll put my laptop in the other room at nine thirty."),
]
STARTS = {s.start for s in SEGMENTS}


def line(text: str, cites: list[int], speaker: str = "client") -> dict:
    return {"text": text, "speaker": speaker, "cites": cites}


GOOD = {
    "summary": [
        line(
            "You talked about how stressful work has been with the product launch and how little you are sleeping.",
            [1],
        ),
        line(
            "You agreed to try a wind-down routine on weeknights, starting at nine thirty.",
            [8, 9, 10, 11],
            "both",
        ),
    ],
    "themes": [
        {"label": "Work stress", "cites": [1, 2]},
        {"label": "Sleep", "cites": [1, 3, 7]},
    ],
    "insights": [
        line("You realised that checking email in bed is making your sleep worse.", [7]),
        line("Your body stays wired at night, as if you were still sitting at your desk.", [5]),
    ],
    "next_steps": [
        line(
            "Try a wind-down routine on weeknights: stop work at nine thirty and put the laptop away.",
            [8, 9, 10],
            "both",
        ),
        line("Put your laptop in the other room at nine thirty.", [11]),
    ],
    "questions": [
        line("What could make weekends restful too?", [6, 9]),
    ],
    "moments": [
        {
            "kind": "realisation",
            "quote": "I realise that checking email in bed is making my sleep worse, not better.",
            "reflection": "You saw how checking email in bed keeps your sleep short.",
            "speaker": "client",
            "cites": [7],
        },
        {
            "kind": "reflection",
            "quote": "part of you feels like you can't switch off until everything is done",
            "reflection": "Your therapist named the part of you that can't switch off.",
            "speaker": "therapist",
            "cites": [6],
        },
        {
            "kind": "commitment",
            "quote": "I'll put my laptop in the other room at nine thirty.",
            "reflection": "You made the plan your own, with the laptop in another room.",
            "speaker": "client",
            "cites": [11],
        },
    ],
    "full_recap": [
        {
            "title": "Opening",
            "subtitle": "",
            "paragraphs": [line("You came in after a rough, stressful week at work and short nights.", [1])],
        },
        {
            "title": "Main threads",
            "subtitle": "Sleep",
            "paragraphs": [
                line(
                    "Your therapist reflected that the launch is taking over your evenings as well as your days.",
                    [2],
                    "therapist",
                ),
                line("You answer emails in bed until midnight, and then your mind races.", [3]),
            ],
        },
        {
            "title": "The plan",
            "subtitle": "",
            "paragraphs": [
                line(
                    "You and your therapist agreed on a wind-down routine on weeknights from nine thirty.",
                    [8, 9, 10, 11],
                    "both",
                )
            ],
        },
        {"title": "Closing", "subtitle": "", "paragraphs": [line("You said the plan sounds doable.", [11])]},
    ],
}
GOOD_ITEMS = 2 + 2 + 2 + 2 + 1 + 3 + 5


def recap_with(**extra: list) -> dict:
    """GOOD with items appended to some of its lists."""
    data = copy.deepcopy(GOOD)
    for key, items in extra.items():
        data[key].extend(items)
    return data


def texts(result: RecapResult) -> str:
    parts = [i.text for i in (*result.summary, *result.insights, *result.next_steps, *result.questions)]
    parts += [t.label for t in result.themes]
    parts += [f"{m.reflection} {m.quote}" for m in result.moments]
    parts += [p.text for s in result.full_recap for p in s.paragraphs]
    return "\n".join(parts)


def all_sources(result: RecapResult) -> list[float]:
    out: list[float] = []
    for item in (*result.summary, *result.insights, *result.next_steps, *result.questions, *result.themes):
        out += item.sources
    for m in result.moments:
        out += [*m.sources, m.offset]
    for s in result.full_recap:
        for p in s.paragraphs:
            out += p.sources
    return out


# --- privacy: nothing of the transcript or of a reply in any log record -------------------------------

# Words of the transcript and of the scripted replies; none may appear in a log line or an error.
_CONTENT_WORDS = {
    w
    for text in [*(s.text for s in SEGMENTS), str(GOOD), "melatonin boss suicide anxiety disorder"]
    for w in re.findall(r"[a-z]{6,}", text.lower())
}
# Words the client's and server's own log lines use by design.
_CONTENT_WORDS -= {
    "session",
    "speaker",
    "summary",
    "insights",
    "questions",
    "moments",
    "reflection",
    "subtitle",
    "paragraphs",
}
SENTENCES = [s.text for s in SEGMENTS]


@pytest.fixture(autouse=True)
def no_content_in_logs(caplog, request):
    caplog.set_level(logging.DEBUG)
    yield
    # In teardown, caplog.records holds teardown's records only: read the test's own phase.
    records = caplog.get_records("setup") + caplog.get_records("call")
    if "llm" in request.fixturenames:
        assert any(r.name.startswith("recaps.engines") for r in records), (
            "the check must see the engine's logs"
        )
    for record in records:
        text = record.getMessage().lower()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + str(record.exc_info[1]).lower()
        leaked = {w for w in _CONTENT_WORDS if w in text}
        assert not leaked, f"{record.name} logged content words {sorted(leaked)}"
        assert not any(s.lower()[:30] in text for s in SENTENCES)


def assert_content_free(exc: LlmUnavailable) -> None:
    message = str(exc)
    assert re.fullmatch(r"timeout|connection error|non-JSON body|malformed reply|http \d{3}", message), (
        message
    )
    assert not {w for w in _CONTENT_WORDS if w in message.lower()}


@pytest.fixture
def llm():
    with ScriptedLlm() as server:
        yield server


def engine_for(server: ScriptedLlm, **kw) -> LlmEngine:
    return LlmEngine(
        LlmSettings(url=server.url, model="test-model", timeout_s=kw.pop("timeout_s", 5.0), **kw)
    )


# --- a good recap -------------------------------------------------------------------------------------


def test_a_good_recap_is_kept_whole_and_every_source_is_a_segment_start(llm):
    llm.push(Reply(GOOD))
    engine = engine_for(llm)
    result = engine.build(SEGMENTS)

    assert result.engine == "llm"
    assert engine.last_report == {
        "unknown_cite": 0,
        "risk_not_said": 0,
        "wrong_speaker": 0,
        "invented_quote": 0,
        "unsure_quote": 0,
        "unsupported": 0,
        "kept": GOOD_ITEMS,
    }
    assert engine.last_usage == {"recap": Usage(prompt_tokens=120, completion_tokens=80)}
    assert len(result.summary) == 2 and len(result.next_steps) == 2 and len(result.moments) == 3
    assert [s.title for s in result.full_recap] == ["Opening", "Main threads", "The plan", "Closing"]
    assert all_sources(result) and set(all_sources(result)) <= STARTS
    assert result.next_steps[0].sources == [93.0, 111.0, 123.0]
    # Where a quote was said and who said it come from the transcript.
    assert [(m.offset, m.speaker) for m in result.moments] == [
        (67.0, "therapist"),
        (81.0, "client"),
        (131.0, "client"),
    ]
    assert sum(t.share for t in result.themes) == pytest.approx(1.0, abs=0.01)
    assert result.safety is None
    assert result.stats.segments == 12

    [request] = llm.requests
    body = request["json"]
    assert set(body) == {"model", "messages", "temperature", "stream", "response_format"}  # no "user"
    assert body["temperature"] == 0 and body["model"] == "test-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "authorization" not in request["headers"] and "cookie" not in request["headers"]
    transcript = body["messages"][1]["content"]
    assert "[8] THERAPIST (advice): It might help to have a wind-down routine" in transcript
    assert "[11] CLIENT (change talk; commitment): That sounds doable." in transcript


def test_the_api_key_goes_only_into_the_authorization_header(llm):
    llm.push(Reply(GOOD))
    engine_for(llm, api_key="sk-test-key").build(SEGMENTS)
    [request] = llm.requests
    assert request["headers"]["authorization"] == "Bearer sk-test-key"
    assert "sk-test-key" not in str(request["json"])


# --- what the validator drops ------------------------------------------------------------------------


def test_invented_quotes_and_invented_next_steps_are_dropped(llm):
    invented_moments = [
        {
            "kind": "feeling",
            "quote": "I never get any sleep because of my boss.",
            "reflection": "You feel your boss keeps you from sleep.",
            "speaker": "client",
            "cites": [1],
        },
        {
            "kind": "change",
            "quote": "I want to quit my job.",
            "reflection": "You want to change jobs.",
            "speaker": "client",
            "cites": [9],
        },
    ]
    invented_steps = [
        line("Take melatonin every night before bed.", [8], "therapist"),
        line("Go for a run every morning before work.", [9]),
        line("Call your manager about the product launch deadline.", [42]),
        line("Journal about your feelings.", []),
    ]
    llm.push(Reply(recap_with(moments=invented_moments, next_steps=invented_steps)))
    engine = engine_for(llm)
    result = engine.build(SEGMENTS)

    report = engine.last_report
    assert report["invented_quote"] == 2
    assert report["unsupported"] == 2
    assert report["unknown_cite"] == 2  # a made-up id, and no cite at all
    assert report["kept"] == GOOD_ITEMS
    kept = texts(result).lower()
    for word in ("boss", "quit", "melatonin", "run every morning", "manager", "journal"):
        assert word not in kept
    assert len(result.next_steps) == 2 and len(result.moments) == 3


def test_lines_in_the_wrong_speakers_voice_are_dropped(llm):
    wrong = [
        # The therapist's reflection, written up as the client's own words.
        line("You said part of you can't switch off until everything is done.", [6]),
        # The client's realisation, credited to the therapist.
        line("Your therapist said checking email in bed is making your sleep worse.", [7], "therapist"),
        # Declared as the client's, citing only the therapist's suggestion.
        line("Stop work at nine thirty and do something calm before bed.", [8], "client"),
    ]
    moment = {
        "kind": "realisation",
        "quote": "you can't switch off until everything is done",
        "reflection": "You realised you can't switch off until everything is done.",
        "speaker": "client",
        "cites": [6],
    }
    llm.push(Reply(recap_with(insights=wrong[:2], next_steps=wrong[2:], moments=[moment])))
    engine = engine_for(llm)
    result = engine.build(SEGMENTS)
    assert engine.last_report["wrong_speaker"] == 4
    assert engine.last_report["kept"] == GOOD_ITEMS
    assert "your therapist said checking" not in texts(result).lower()


def test_risk_and_diagnosis_statements_that_were_not_said_are_dropped(llm):
    risky = [
        line("You denied any thoughts of suicide.", [5]),
        line("Your exhaustion may be a sign of depression.", [1]),
        line("There is no risk to your safety right now.", [5], "therapist"),
        line("Your stress looks like an anxiety disorder.", [1]),
    ]
    llm.push(Reply(recap_with(summary=risky[:1], insights=risky[1:])))
    engine = engine_for(llm)
    result = engine.build(SEGMENTS)
    assert engine.last_report["risk_not_said"] == 4
    kept = texts(result).lower()
    assert (
        "suicide" not in kept and "depression" not in kept and "risk" not in kept and "disorder" not in kept
    )
    assert result.safety is None


def test_what_was_said_about_suicide_is_kept_with_its_polarity_and_brings_the_support_line():
    segments = [
        Segment(T, 0.0, 5.0, "Have there been times this week when you thought about suicide?"),
        Segment(C, 6.0, 12.0, "Yes, a couple of nights I had thoughts of suicide after the arguments."),
        Segment(T, 13.0, 18.0, "Thank you for telling me. Let's make a plan for those nights."),
    ]
    draft = RecapResult(
        summary=[
            Voiced(
                text="You spoke about having thoughts of suicide after the arguments.",
                sources=[6.0],
                speaker="client",
            ),
            Voiced(text="You denied thoughts of suicide.", sources=[6.0], speaker="client"),
            Voiced(text="You have no thoughts of suicide.", sources=[0.0, 6.0], speaker="client"),
        ]
    )
    kept, report = check(draft, segments)
    assert [i.text for i in kept.summary] == [
        "You spoke about having thoughts of suicide after the arguments."
    ]
    assert report["risk_not_said"] == 2 and report["kept"] == 1


def test_the_safety_line_is_the_engines_own_when_the_client_spoke_of_suicide(llm):
    segments = [
        *SEGMENTS[:3],
        Segment(C, 23.0, 29.0, "Some nights I think everyone would be better off without me."),
    ]
    llm.push(
        Reply(
            {**{k: [] for k in GOOD}, "summary": [line("You talked about how stressful work has been.", [1])]}
        )
    )
    result = engine_for(llm).build(segments)
    assert result.safety == SourcedText(text=SUPPORT_LINE, sources=[23.0])
    assert [s.text for s in result.summary] == [
        "You talked about how stressful work has been.",
        "You also spoke about thoughts of suicide.",
    ]


# --- the client: retries, fallback, failures ---------------------------------------------------------


def test_a_malformed_reply_gets_one_retry_and_a_good_retry_is_used(llm):
    llm.push(Malformed(), Reply(GOOD))
    engine = engine_for(llm)
    result = engine.build(SEGMENTS)
    assert len(llm.requests) == 2
    assert engine.last_usage["recap"] == Usage(prompt_tokens=240, completion_tokens=160)
    assert engine.last_report["kept"] == GOOD_ITEMS and len(result.next_steps) == 2
    retry = llm.requests[1]["json"]["messages"]
    assert retry[:2] == llm.requests[0]["json"]["messages"]
    assert retry[-1]["role"] == "user" and "not usable (not JSON)" in retry[-1]["content"]


def test_two_malformed_replies_make_the_model_unavailable(llm):
    # The second one is JSON, but not the schema's shape: that is malformed too.
    llm.push(Malformed(), Malformed({"summary": "not a list"}))
    with pytest.raises(LlmUnavailable) as caught:
        engine_for(llm).build(SEGMENTS)
    assert str(caught.value) == "malformed reply"
    assert_content_free(caught.value)
    assert len(llm.requests) == 2 and llm.unscripted == 0


def test_a_refused_json_schema_falls_back_to_json_object_with_the_schema_in_the_prompt(llm):
    llm.push(RejectSchema(), Reply(GOOD))
    engine = engine_for(llm)
    result = engine.build(SEGMENTS)
    assert engine.last_report["kept"] == GOOD_ITEMS and result.summary
    first, second = (r["json"] for r in llm.requests)
    assert first["response_format"]["type"] == "json_schema"
    assert second["response_format"] == {"type": "json_object"}
    assert '"next_steps"' in second["messages"][0]["content"]  # the schema, in the system prompt
    assert "user" not in second
    # The same engine remembers: its next build goes straight to json_object.
    llm.push(Reply(GOOD))
    engine.build(SEGMENTS)
    assert llm.requests[2]["json"]["response_format"] == {"type": "json_object"}


def test_a_reply_slower_than_the_timeout_makes_the_model_unavailable(llm):
    llm.push(Slow(3.0, then=Reply(GOOD)))
    with pytest.raises(LlmUnavailable) as caught:
        engine_for(llm, timeout_s=0.5).build(SEGMENTS)
    assert str(caught.value) == "timeout"
    assert_content_free(caught.value)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (Status(500), "http 500"),
        (Status(503, "upstream overloaded", "text/plain"), "http 503"),
        (Status(401, '{"error": {"message": "bad key"}}'), "http 401"),
        (Status(200, "<html>a proxy page</html>", "text/html"), "non-JSON body"),
    ],
)
def test_server_failures_make_the_model_unavailable_without_a_retry(llm, behaviour, message):
    llm.push(behaviour)
    with pytest.raises(LlmUnavailable) as caught:
        engine_for(llm).build(SEGMENTS)
    assert str(caught.value) == message
    assert_content_free(caught.value)
    assert len(llm.requests) == 1


def test_a_server_that_is_not_there_makes_the_model_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = LlmEngine(LlmSettings(url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=2.0))
    with pytest.raises(LlmUnavailable) as caught:
        engine.build(SEGMENTS)
    assert str(caught.value) == "connection error"


def test_an_empty_transcript_needs_no_model():
    engine = LlmEngine(LlmSettings(url="http://127.0.0.1:9/v1", model="m"))
    result = engine.build([Segment(C, 0.0, 2.0, "[MUSIC]")])
    assert result.engine == "llm" and not result.summary and result.stats.segments == 1


def test_complete_json_validates_the_schema_subset(llm):
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "enum": ["a", "b"]}},
        },
        "required": ["n", "tags"],
    }
    assert schema_errors({"n": 1, "tags": ["a"]}, schema) == []
    assert schema_errors({"n": True, "tags": ["a", "b", "c"]}, schema) == [
        "$.n: expected integer",
        "$.tags: more than 2 items",
        "$.tags[2]: not one of the allowed values",
    ]
    assert schema_errors({"tags": []}, schema) == ["$: missing n"]
    llm.push(Reply({"n": 3, "tags": ["b"]}, prompt_tokens=None))
    data, usage = complete_json(
        LlmSettings(url=llm.url, model="m"), [{"role": "user", "content": "x"}], schema, "t"
    )
    assert data == {"n": 3, "tags": ["b"]} and usage == Usage()


# --- map and reduce ----------------------------------------------------------------------------------


def notes_reply(cites_outside: int) -> dict:
    return {
        "topics": [{"label": "Work stress", "cites": [1]}, {"label": "Sleep", "cites": [3, cites_outside]}],
        "client_change": [{"text": "You noticed your shoulders get tight and you feel wired.", "cites": [5]}],
        "therapist_suggestions": [],
        "agreements": [],
        "open_questions": [],
        "quotes": [
            {
                "kind": "feeling",
                "quote": "I'm exhausted, I'm only sleeping about five hours a night.",
                "cites": [1],
            },
            {"kind": "feeling", "quote": "I am burning out completely.", "cites": [1]},
        ],
    }


def reduce_reply(id_of: dict[float, int]) -> dict:
    i = id_of.get
    return {
        **{k: [] for k in GOOD},
        "summary": [
            line("You talked about how stressful work has been with the product launch.", [i(7.0)]),
            line(
                "You agreed to try a wind-down routine on weeknights, starting at nine thirty.",
                [i(93.0), i(111.0), i(123.0)],
                "both",
            ),
        ],
        "next_steps": [line("Put your laptop in the other room at nine thirty.", [i(131.0)])],
        "moments": [
            {
                "kind": "feeling",
                "quote": "I'm only sleeping about five hours a night",
                "reflection": "You named how little you are sleeping.",
                "speaker": "client",
                "cites": [i(7.0)],
            },
        ],
        # Segment 0 was in no note: the reduce step cannot know it, so this is an unknown cite.
        "insights": [line("You were asked how the week had been.", [99])],
    }


def test_notes_and_reduce_work_as_entry_points(llm):
    engine = engine_for(llm)
    first, tail = SEGMENTS[:6], SEGMENTS[6:]
    llm.push(Reply(notes_reply(cites_outside=9)))
    notes, usage = engine.notes(first)
    assert usage == Usage(120, 80)
    # The topic citing a line outside the chunk and the quote that was never said are gone.
    assert [t["label"] for t in notes["topics"]] == ["Work stress"]
    assert [q["quote"] for q in notes["quotes"]] == [
        "I'm exhausted, I'm only sleeping about five hours a night."
    ]
    assert notes["client_change"][0]["sources"] == [56.0]
    assert [d["start"] for d in notes["segments"]] == [7.0, 56.0]

    known = sorted({7.0, 56.0} | {s.start for s in tail})
    llm.push(Reply(reduce_reply({start: n for n, start in enumerate(known)})))
    result = engine.reduce([notes], tail)
    request = llm.requests[1]["json"]["messages"][1]["content"]
    assert "how has the week been" not in request  # an uncited line of an earlier chunk never travels
    assert "[5] CLIENT (change talk; commitment): I think I could try that on weeknights." in request
    assert engine.last_report["unknown_cite"] == 1 and engine.last_report["kept"] == 4
    assert set(all_sources(result)) <= STARTS
    assert result.moments[0].offset == 7.0
    assert engine.last_usage == {"reduce": Usage(120, 80)}


def test_notes_written_while_recording_are_used_and_only_the_rest_is_sent_at_stop(llm):
    engine = engine_for(llm)
    llm.push(Reply(notes_reply(cites_outside=9)))
    stored, _usage = engine.notes(SEGMENTS[:6])
    assert stored["covers"] == [s.start for s in SEGMENTS[:6]]
    stored = json.loads(json.dumps(stored))  # as it comes back from the database

    known = sorted({7.0, 56.0} | {s.start for s in SEGMENTS[6:]})
    llm.push(Reply(reduce_reply({start: n for n, start in enumerate(known)})))
    steps = []
    result = engine.build(SEGMENTS, notes=[stored], on_progress=lambda *a: steps.append(a))
    assert len(llm.requests) == 2 and steps == [(1, 1)]  # the write-up only: the rest fits one call
    reduce_prompt = llm.requests[1]["json"]["messages"][1]["content"]
    assert "Work stress" in reduce_prompt  # the stored notes travel
    assert "how has the week been" not in reduce_prompt  # the covered lines do not
    assert "I think I could try that on weeknights." in reduce_prompt  # the rest does
    assert engine.last_report["kept"] == 4 and result.stats.segments == 12
    assert engine.last_usage == {"notes": Usage(0, 0), "reduce": Usage(120, 80)}


def test_a_long_remainder_is_noted_at_stop_with_progress_for_each_call(llm):
    engine = engine_for(llm)
    engine.single_call_max_words = 0  # nothing fits one call
    engine.chunk_s = 65.0
    known = sorted({7.0, 56.0} | {s.start for s in SEGMENTS[6:]})
    llm.push(
        Reply(notes_reply(cites_outside=11)), Reply(reduce_reply({start: n for n, start in enumerate(known)}))
    )
    steps = []
    engine.build(SEGMENTS, on_progress=lambda *a: steps.append(a))
    assert steps == [(1, 2), (2, 2)]


def test_a_long_session_is_built_from_notes_on_chunks_then_one_reduce(llm):
    engine = engine_for(llm)
    engine.single_call_max_words = 0  # every session counts as long
    engine.chunk_s = 65.0  # two chunks: segments 0-5 and 6-11
    known = sorted({7.0, 56.0} | {s.start for s in SEGMENTS[6:]})
    llm.push(
        Reply(notes_reply(cites_outside=11)), Reply(reduce_reply({start: n for n, start in enumerate(known)}))
    )
    result = engine.build(SEGMENTS)
    assert len(llm.requests) == 2
    assert [r["json"]["response_format"]["json_schema"]["name"] for r in llm.requests] == [
        "session_notes",
        "session_recap",
    ]
    assert engine.last_usage == {"notes": Usage(120, 80), "reduce": Usage(120, 80)}
    assert engine.last_report["kept"] == 4
    assert result.stats.segments == 12  # stats from the whole session, not the reduce step's part
    assert set(all_sources(result)) <= STARTS and result.engine == "llm"
