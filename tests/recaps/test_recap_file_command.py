import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recaps.models import Recap
from tests.recaps.llm_server import Reply, ScriptedLlm, Status

FIXTURE = Path(__file__).parent / "transcripts" / "work_sleep.json"


@pytest.mark.django_db
def test_recap_file_prints_a_recap_and_stores_nothing(capsys):
    call_command("recap_file", str(FIXTURE))
    recap = json.loads(capsys.readouterr().out)
    assert 3 <= len(recap["summary"]) <= 6
    assert any("breath" in step["text"].lower() for step in recap["next_steps"])
    assert all(item["sources"] for item in recap["summary"] + recap["next_steps"])
    assert Recap.objects.count() == 0


def test_recap_file_refuses_bad_input_clearly(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"speaker": "client"}')
    with pytest.raises(CommandError, match="JSON list"):
        call_command("recap_file", str(bad))
    bad.write_text('[{"speaker": "client", "text": "hi"}]')
    with pytest.raises(CommandError, match="segment 0"):
        call_command("recap_file", str(bad))
    with pytest.raises(CommandError, match="no such file"):
        call_command("recap_file", str(tmp_path / "missing.json"))


EMPTY_RECAP = {
    "summary": [],
    "themes": [],
    "insights": [],
    "next_steps": [],
    "questions": [],
    "moments": [],
    "full_recap": [],
}


@pytest.mark.django_db
def test_recap_file_with_the_model_engine_prints_what_the_validator_kept(capsys, settings):
    reply = {
        **EMPTY_RECAP,
        "summary": [
            {"text": "You haven't been sleeping well at all.", "speaker": "client", "cites": [1]},
            # Never said: the validator drops it before anything is printed.
            {"text": "You denied any thoughts of suicide.", "speaker": "client", "cites": [1]},
        ],
    }
    with ScriptedLlm(Reply(reply)) as llm:
        settings.RECAP_LLM_URL, settings.RECAP_LLM_MODEL = llm.url, "test-model"
        call_command("recap_file", str(FIXTURE), "--engine", "llm")
    out, err = capsys.readouterr()
    recap = json.loads(out)
    assert recap["engine"] == "llm"
    assert [s["text"] for s in recap["summary"]] == ["You haven't been sleeping well at all."]
    assert '"risk_not_said": 1' in err and "suicide" not in err


def test_recap_file_with_the_model_engine_needs_a_server_and_says_why_it_failed(settings):
    settings.RECAP_LLM_URL = ""
    with pytest.raises(CommandError, match="RECAP_LLM_URL"):
        call_command("recap_file", str(FIXTURE), "--engine", "llm")
    with ScriptedLlm(Status(500)) as llm:
        settings.RECAP_LLM_URL, settings.RECAP_LLM_MODEL = llm.url, "test-model"
        with pytest.raises(CommandError, match=r"could not make a recap \(http 500\)") as raised:
            call_command("recap_file", str(FIXTURE), "--engine", "llm")
    assert "sleep" not in str(raised.value)
