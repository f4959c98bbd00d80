"""Opt-in: the language-model engine against a real OpenAI-compatible server. Runs only when
LLM_TEST_URL (and LLM_TEST_MODEL) are set, e.g. an Ollama or llama-cpp-python server (README recipe):

    LLM_TEST_URL=http://127.0.0.1:11434/v1 LLM_TEST_MODEL=llama3.2:3b \\
        bash scripts/run-tests.sh tests/recaps/test_llm_real_server.py
"""

import json
import os
from pathlib import Path

import pytest

from recaps.engines import Segment
from recaps.engines.llm import LlmEngine
from recaps.engines.llm_client import LlmSettings

URL = os.environ.get("LLM_TEST_URL", "")
MODEL = os.environ.get("LLM_TEST_MODEL", "")
FIXTURE = Path(__file__).parent / "transcripts" / "work_sleep.json"

pytestmark = pytest.mark.skipif(not (URL and MODEL), reason="set LLM_TEST_URL and LLM_TEST_MODEL to run")


def test_a_real_model_writes_a_recap_that_only_cites_what_was_said():
    segments = [Segment.from_dict(d) for d in json.loads(FIXTURE.read_text())]
    engine = LlmEngine(
        LlmSettings(url=URL, model=MODEL, timeout_s=float(os.environ.get("LLM_TEST_TIMEOUT_S", 600)))
    )
    result = engine.build(segments)
    starts = {s.start for s in segments}
    items = [*result.summary, *result.insights, *result.next_steps, *result.questions]
    assert items, "the model wrote nothing the validator kept"
    assert all(item.sources and set(item.sources) <= starts for item in items)
    assert engine.last_report["kept"] >= len(items)
    print(json.dumps({"validator": engine.last_report}, sort_keys=True))


def test_a_real_model_writes_notes_while_recording_and_the_recap_from_them():
    """The map step's path: notes on the first half (as stored while recording), then the write-up at
    Stop from those notes and the lines they do not cover."""
    segments = [Segment.from_dict(d) for d in json.loads(FIXTURE.read_text())]
    engine = LlmEngine(
        LlmSettings(url=URL, model=MODEL, timeout_s=float(os.environ.get("LLM_TEST_TIMEOUT_S", 600)))
    )
    half = segments[: len(segments) // 2]
    notes, _usage = engine.notes(half)
    assert notes["covers"] == sorted({s.start for s in half})
    result = engine.build(segments, notes=[json.loads(json.dumps(notes))])
    starts = {s.start for s in segments}
    items = [*result.summary, *result.insights, *result.next_steps, *result.questions]
    assert items and all(item.sources and set(item.sources) <= starts for item in items)
    print(json.dumps({"validator": engine.last_report, "usage": str(engine.last_usage)}, sort_keys=True))
