import logging
from datetime import datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from capture import services as capture_services
from capture.models import CaptureSession, TranscriptNotes, TranscriptSegment
from undertone_web.db import database_wal_truncate
from undertone_web.faults import fault_point

from .models import (
    AfterNote,
    ClientSettings,
    MomentSchedule,
    NextStepStatus,
    Recap,
    RecapAccess,
    SessionNote,
)

log = logging.getLogger(__name__)


class NextStepMissing(LookupError):
    """The recap has no next step at that index (a stale page, or a hand-made request)."""


def _segments(rows) -> list:
    from .engines.base import Segment

    return [
        Segment(
            speaker=r.speaker,
            start=r.start,
            end=r.end,
            text=r.text,
            avg_logprob=r.avg_logprob,
            no_speech_prob=r.no_speech_prob,
            unsure=tuple(tuple(s) for s in (r.unsure or [])),
        )
        for r in rows
    ]


def recap_build(*, session_id, engine_name: str = "local") -> Recap | None:
    """Build the recap from the session's temporary transcript and save it encrypted; capture deletes
    the transcript and windows in the same transaction (capture.services.session_handoff).
    Idempotent: None if not ready or done.

    With a language model configured (RECAP_LLM_URL), this recap is shown at once and marked
    "polishing"; capture keeps the transcript (encrypted) until recap_polish has written the final one."""
    from .engines.base import get_engine
    from .llm_config import llm_target

    polish = llm_target() is not None

    def build(session, rows, heard) -> Recap | None:
        if Recap.objects.filter(session=session).exists():
            return None
        segments = _segments(rows)
        fault_point("recap_build", detail=lambda: " ".join(s.text for s in segments))  # test-only: faults.py
        engine = get_engine(engine_name)
        data = engine.build(segments).to_dict()
        stats = data.setdefault("stats", {})
        stats["recorded_s"] = round(heard.recorded_s, 1)
        # Per channel, seconds recorded and of speech: so the recap can say what it could not hear.
        stats["channels"] = {
            str(ch): {"recorded_s": r, "speech_s": s} for ch, (r, s) in heard.channels.items()
        }
        if heard.voices is not None:
            # In person: whether who-said-what comes from telling the voices apart (not content).
            stats["voices"] = heard.voices
        if session.finished_automatically:
            # Nobody pressed Stop: the purge job finished it from what was saved. Not content.
            stats["finished_automatically"] = True
        if polish:
            data["polishing"] = True
        number = (Recap.objects.filter(user=session.user).aggregate(n=Max("number"))["n"] or 0) + 1
        recap = Recap.objects.create(
            user=session.user,
            session=session,
            number=number,
            kind=session.mode,
            engine=engine.name,
            data=data,
            session_date=session.started_at or session.created_at,
        )
        moment_schedule_create(recap=recap)
        log.info("session %s: recap saved from %d segments", session_id, len(rows))
        return recap

    return capture_services.session_handoff(session_id=session_id, build=build, hold_transcript=polish)


# Facts of the recording the local build stored; a polished recap keeps them (they are not content).
_KEPT_STATS = ("recorded_s", "channels", "finished_automatically", "voices")


def recap_notes(*, session_id, chunk: int) -> bool:
    """The map step, while the session records: the language model's notes on one chunk of the
    transcript, stored encrypted beside it and deleted with it (capture.models.TranscriptNotes), so the
    final recap at Stop has only the rest to read. When the model cannot, the chunk is marked so and its
    lines go to the final recap as they are. Idempotent: a chunk already noted is left alone."""
    from django.conf import settings

    from .engines.llm import LlmEngine
    from .engines.llm_client import LlmUnavailable
    from .llm_config import llm_target

    chunk_s = settings.RECAP_LLM_CHUNK_S
    rows = capture_services.transcript_chunk(session_id=session_id, chunk=chunk, chunk_s=chunk_s)
    if rows is None:
        return False
    target = llm_target()
    data = None
    if target is not None:
        engine = LlmEngine(target.client_settings())
        try:
            data, usage = engine.notes(_segments(rows))
            data["usage"] = {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}
        except LlmUnavailable as exc:
            log.warning("session %s: the model could not note chunk %d (%s)", session_id, chunk, exc.reason)
    return capture_services.transcript_notes_save(session_id=session_id, chunk=chunk, data=data)


def recap_notes_due(*, session_id) -> list[int]:
    """The chunks of a recording session ready for notes, claimed once each (see recap_notes)."""
    from django.conf import settings

    return capture_services.transcript_chunks_claim(session_id=session_id, chunk_s=settings.RECAP_LLM_CHUNK_S)


def recap_polish(*, recap_id, on_progress=None) -> Recap | None:
    """The language model writes the final recap from the held transcript and it replaces the local one;
    every item it writes is checked against what was said (engines/llm_validate.py). If the model cannot
    be used, the local recap stands with a quiet note. Either way the transcript is deleted here.
    Idempotent: a recap not marked "polishing" is left alone."""
    from .engines.llm import LlmEngine
    from .engines.llm_client import LlmUnavailable
    from .llm_config import llm_target

    recap = Recap.objects.filter(id=recap_id).first()
    if recap is None or recap.session_id is None:
        return None
    try:
        rows = capture_services.transcript_held(session_id=recap.session_id)
        target = llm_target()
        if not recap.data.get("polishing"):
            return None
        if not rows or target is None:  # the transcript is gone or the model was switched off
            return _polish_done(recap_id, None)
        engine = LlmEngine(target.client_settings())
        notes = capture_services.transcript_notes(session_id=recap.session_id)
        try:
            result = engine.build(_segments(rows), notes=notes, on_progress=on_progress)
        except LlmUnavailable as exc:
            log.warning(
                "recap %s: the model could not write it (%s); the local recap stands", recap_id, exc.reason
            )
            _polish_done(recap_id, None)
            return None
        log.info(
            "recap %s: written by the model from %d stored notes; validator %s",
            recap_id,
            len(notes),
            engine.last_report,
        )
        return _polish_done(recap_id, result.to_dict())
    finally:
        capture_services.transcript_release(session_id=recap.session_id)


def recap_session_id(*, recap_id):
    return Recap.objects.filter(id=recap_id).values_list("session_id", flat=True).first()


def _polish_done(recap_id, data: dict | None) -> Recap | None:
    with transaction.atomic():
        recap = Recap.objects.select_for_update().filter(id=recap_id).first()
        if recap is None or not recap.data.get("polishing"):
            return None
        old = dict(recap.data)
        old.pop("polishing", None)
        if data is None or not (data.get("summary") or data.get("next_steps")):
            # Nothing usable came back: the local recap stands, and says a model did not finish it.
            old["polish_failed"] = True
            recap.data = old
            recap.save(update_fields=["data"])
            return recap
        stats = data.setdefault("stats", {})
        for key in _KEPT_STATS:
            if key in (old.get("stats") or {}):
                stats[key] = old["stats"][key]
        data["polished"] = True
        recap.data = data
        recap.engine = "llm"
        recap.save(update_fields=["data", "engine"])
        # Moments and next steps are the model's now: their schedule and done marks start over.
        MomentSchedule.objects.filter(recap=recap).delete()
        NextStepStatus.objects.filter(recap=recap).delete()
        moment_schedule_create(recap=recap)
    return recap


def recap_access_log(*, user, recap_id, action: str) -> None:
    RecapAccess.objects.create(user=user, recap_id=recap_id, action=action)


# Moments come back on a widening, spaced-repetition-like rhythm: often at first, then less.
MOMENT_DAYS: tuple[int, ...] = (1, 2, 4, 6, 9, 13, 18, 24, 31, 39)


def moment_days(count: int) -> list[int]:
    """Days after the session for `count` moments: 1, 2, 4, 6, 9, 13… (gaps grow by one, after 2)."""
    days = list(MOMENT_DAYS[:count])
    while len(days) < count:
        days.append(days[-1] + (days[-1] - days[-2]) + 1)
    return days


def moment_schedule_create(*, recap: Recap) -> list[MomentSchedule]:
    """One row per moment of the recap; idempotent (existing rows are kept as they are)."""
    moments = recap.data.get("moments") or []
    rows = [
        MomentSchedule(recap=recap, index=i, surface_at=recap.session_date + timedelta(days=day))
        for i, day in enumerate(moment_days(len(moments)))
    ]
    return MomentSchedule.objects.bulk_create(rows, ignore_conflicts=True)


def moment_mark_seen(*, schedule_id: int, user) -> MomentSchedule:
    from .selectors import moment_schedule_for_user

    schedule = moment_schedule_for_user(schedule_id=schedule_id, user=user)
    if schedule.seen_at is None:
        schedule.seen_at = timezone.now()
        schedule.save(update_fields=["seen_at"])
    return schedule


def next_step_toggle(*, recap: Recap, index: int) -> bool:
    """Mark a next step done, or open again if it was done. Returns True when it is now done."""
    if not 0 <= index < len(recap.data.get("next_steps") or []):
        raise NextStepMissing(f"recap has no next step {index}")
    deleted, _ = NextStepStatus.objects.filter(recap=recap, index=index).delete()
    if deleted:
        return False
    NextStepStatus.objects.create(recap=recap, index=index, done_at=timezone.now())
    return True


def session_note_save(*, recap: Recap, user, text: str) -> SessionNote | None:
    """Save the person's note (encrypted by the field); an empty note removes it."""
    text = text.strip()
    recap_access_log(user=user, recap_id=recap.id, action=RecapAccess.Action.NOTE)
    if not text:
        SessionNote.objects.filter(recap=recap).delete()
        return None
    note, _ = SessionNote.objects.update_or_create(recap=recap, defaults={"text": text})
    return note


def _note_content(*, stood_out: str, practise: str, bring_back: str) -> dict[str, str]:
    content = {"stood_out": stood_out.strip(), "practise": practise.strip(), "bring_back": bring_back.strip()}
    if not any(content.values()):
        # The form says so kindly; this guards every other caller.
        raise ValueError("an after-session note needs at least one answer")
    return content


def after_note_create(
    *, user, stood_out: str = "", practise: str = "", bring_back: str = "", recap: Recap | None = None
) -> AfterNote:
    """Save a private after-session note (encrypted by the field). `recap` must be the user's own."""
    if recap is not None and recap.user_id != user.pk:
        raise ValueError("a note can only point at the person's own recap")
    return AfterNote.objects.create(
        user=user,
        recap=recap,
        content=_note_content(stood_out=stood_out, practise=practise, bring_back=bring_back),
    )


def after_note_update(
    *, note: AfterNote, stood_out: str, practise: str, bring_back: str, recap: Recap | None
) -> AfterNote:
    if recap is not None and recap.user_id != note.user_id:
        raise ValueError("a note can only point at the person's own recap")
    note.content = _note_content(stood_out=stood_out, practise=practise, bring_back=bring_back)
    note.recap = recap
    note.save(update_fields=["content", "recap", "updated_at"])
    return note


def after_note_delete(*, note: AfterNote) -> None:
    note.delete()
    database_wal_truncate()


def recap_delete(*, recap: Recap, user) -> None:
    """Delete the recap; its moment schedule, next-step marks and note go with it (CASCADE). The audit
    row outlives it on purpose: it holds the id and the action, never content."""
    with transaction.atomic():
        recap_access_log(user=user, recap_id=recap.id, action=RecapAccess.Action.DELETE)
        recap.delete()
    database_wal_truncate()


def client_settings_save(
    *,
    user,
    next_appointment: datetime | None,
    weekly_weekday: int | None,
    weekly_time: time | None,
    brief_hours_before: int,
) -> ClientSettings:
    obj, _ = ClientSettings.objects.update_or_create(
        user=user,
        defaults={
            "next_appointment": next_appointment,
            "weekly_weekday": weekly_weekday,
            "weekly_time": weekly_time,
            "brief_hours_before": brief_hours_before,
        },
    )
    return obj


# Every column written through EncryptedTextField / EncryptedJSONField: (table, primary key, column).
ENCRYPTED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (Recap._meta.db_table, "id", "data"),
    (TranscriptSegment._meta.db_table, "id", "text"),
    (SessionNote._meta.db_table, "id", "text"),
    (AfterNote._meta.db_table, "id", "content"),
    (CaptureSession._meta.db_table, "id", "backlog_key"),
    (TranscriptNotes._meta.db_table, "id", "data"),
)


def encryption_keys_rotate(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted column with the first key of RECAP_ENCRYPTION_KEYS.

    Raw SQL on purpose: going through the model would decrypt into Python objects and re-encrypt in
    get_prep_value, which works but also round-trips JSON; rotate_token keeps the exact plaintext
    bytes and never materialises content beyond the Fernet call. Raises DecryptionError (and rolls
    back that table) if a value opens with none of the configured keys."""
    from undertone_web.crypto import rotate_token

    counts: dict[str, int] = {}
    qn = connection.ops.quote_name
    for table, pk, column in ENCRYPTED_COLUMNS:
        done = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT {qn(pk)}, {qn(column)} FROM {qn(table)} WHERE {qn(column)} IS NOT NULL")  # noqa: S608 - names from ENCRYPTED_COLUMNS, quoted
            rows = cursor.fetchall()
            for start in range(0, len(rows), batch_size):
                updates = [(rotate_token(token), key) for key, token in rows[start : start + batch_size]]
                cursor.executemany(f"UPDATE {qn(table)} SET {qn(column)} = %s WHERE {qn(pk)} = %s", updates)  # noqa: S608
                done += len(updates)
        counts[f"{table}.{column}"] = done
    return counts


# The person's own changes to a recap (recaps/edits.py has the rules; everything stays in the
# encrypted Recap.data, so key rotation covers it). -----------------------------------------------


def _recap_edit(*, recap: Recap, change) -> tuple[Recap, object]:
    """Run `change(data) -> (new data, result, log entries)` on the recap's current data with the row
    locked, save it and its log; a recap still being polished by the model cannot be edited (the
    polished version would replace the edit)."""
    from .edits import EditRefused, log_edit

    with transaction.atomic():
        locked = Recap.objects.select_for_update().get(id=recap.id, user_id=recap.user_id)
        if locked.data.get("polishing"):
            raise EditRefused("polishing")
        data, result, entries = change(locked.data)
        if not entries:  # nothing changed (a word that is not there): nothing to write
            return locked, result
        now = timezone.now()
        for what, section in entries:
            data = log_edit(data, what=what, section=section, at=now)
        locked.data = data
        locked.save(update_fields=["data"])
    database_wal_truncate()  # the old wording leaves the SQLite log too, as with a delete
    return locked, result


def _shift_after_removal(model, *, recap: Recap, index: int) -> None:
    """Rows keyed by a position in a list (next-step done marks, moment schedules) after the item at
    `index` was removed: its row goes, the later ones move up by one. One row at a time, lowest first,
    so the (recap, index) unique constraint holds at every step on every database."""
    model.objects.filter(recap=recap, index=index).delete()
    for row in model.objects.filter(recap=recap, index__gt=index).order_by("index"):
        model.objects.filter(pk=row.pk).update(index=row.index - 1)


def recap_rename(*, recap: Recap, title: str) -> str:
    """The person's title for the session ("" brings the automatic one back). Returns it."""
    from .edits import rename

    def change(data):
        new = rename(data, title)
        return new, new.get("title", ""), [("rename", "title")]

    return _recap_edit(recap=recap, change=change)[1]


def recap_fix_word(*, recap: Recap, wrong: str, right: str) -> int:
    """Replace a misheard word everywhere in the recap; returns how many places changed."""
    from .edits import fix_word

    def change(data):
        new, count, sections = fix_word(data, wrong, right)
        if not count:
            return data, 0, []
        return new, count, [("fix_word", section) for section in sections]

    return _recap_edit(recap=recap, change=change)[1]


def recap_item_remove(*, recap: Recap, section: str, index: int, digest: str) -> None:
    """Remove one item; the done marks of later next steps and the schedules of later moments move with
    their items, in the same transaction."""
    from .edits import remove_item

    def change(data):
        return remove_item(data, section, index, digest), None, [("remove", section)]

    locked, _ = _recap_edit(recap=recap, change=_with_shift(change, recap, section, index))
    recap.data = locked.data


def _with_shift(change, recap: Recap, section: str, index: int):
    # Runs inside _recap_edit's transaction, after the data changed without error.
    def wrapped(data):
        out = change(data)
        if section == "next_steps":
            _shift_after_removal(NextStepStatus, recap=recap, index=index)
        elif section == "moments":
            _shift_after_removal(MomentSchedule, recap=recap, index=index)
        return out

    return wrapped


def recap_item_save(*, recap: Recap, section: str, index: int | None, digest: str, text: str) -> str:
    """Reword a next step or question, or add one (index None, at the end: no index moves). Returns
    "edit" or "add"."""
    from .edits import save_item

    def change(data):
        new, what = save_item(data, section, index, digest, text)
        return new, what, [(what, section)]

    return _recap_edit(recap=recap, change=change)[1]
