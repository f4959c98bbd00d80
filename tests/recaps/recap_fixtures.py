"""Recaps built by the local engine from the hand-written transcripts, cached per process (each build
takes a fraction of a second) and saved straight into the database, as recap_build would."""

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from recaps.engines.base import Segment, get_engine
from recaps.models import Recap
from recaps.services import client_settings_save, moment_schedule_create

TRANSCRIPTS = Path(__file__).parent / "transcripts"
_CACHE: dict[str, dict] = {}


def recap_data(name: str) -> dict:
    if name not in _CACHE:
        segments = [Segment.from_dict(d) for d in json.loads((TRANSCRIPTS / f"{name}.json").read_text())]
        _CACHE[name] = get_engine("local").build(segments).to_dict()
    return copy.deepcopy(_CACHE[name])


def make_recap(
    *, user, name: str = "work_sleep", number: int = 1, session_date: datetime | None = None, schedule=True
) -> Recap:
    recap = Recap.objects.create(
        user=user,
        number=number,
        engine="local",
        data=recap_data(name),
        session_date=session_date or timezone.now() - timedelta(days=1, hours=1),
    )
    if schedule:
        moment_schedule_create(recap=recap)
    return recap


def appointment_soon(user, *, hours: float = 3) -> None:
    """A one-off appointment `hours` from now, the brief opening a day before: the Brief is unlocked."""
    client_settings_save(
        user=user,
        next_appointment=timezone.now() + timedelta(hours=hours),
        weekly_weekday=None,
        weekly_time=None,
        brief_hours_before=24,
    )
