import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recaps.models import Recap

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
