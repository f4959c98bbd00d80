import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from capture import audio_store
from capture.models import CaptureSession, CaptureWindow

from .models import Recap, RecapAccess, TranscriptSegment

log = logging.getLogger(__name__)


def recap_build(*, session_id, engine_name: str = "local") -> Recap | None:
    """Build the recap from the session's temporary transcript, save it encrypted and delete the
    transcript segments and windows in the same transaction. Idempotent: None if not ready or done."""
    from .engines.base import Segment, get_engine

    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().filter(id=session_id).first()
        if session is None or session.status != CaptureSession.Status.ENDING:
            return None
        if Recap.objects.filter(session=session).exists():
            return None
        if CaptureWindow.objects.filter(session=session, status=CaptureWindow.Status.QUEUED).exists():
            return None
        rows = list(TranscriptSegment.objects.filter(session=session).order_by("start", "channel"))
        segments = [Segment(speaker=r.speaker, start=r.start, end=r.end, text=r.text) for r in rows]
        engine = get_engine(engine_name)
        result = engine.build(segments)
        data = result.to_dict()
        recorded_s = max(session.received_0, session.received_1, _last_seq(session)) * 0.2 + 0.2
        data.setdefault("stats", {})["recorded_s"] = round(recorded_s, 1)
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
        window_ids = list(CaptureWindow.objects.filter(session=session).values_list("id", flat=True))
        TranscriptSegment.objects.filter(session=session).delete()
        CaptureWindow.objects.filter(session=session).delete()
        session.status = CaptureSession.Status.DONE
        session.save(update_fields=["status"])
    audio_store.window_audio_delete(window_ids=window_ids)
    log.info("session %s: recap saved from %d segments", session_id, len(rows))
    return recap


def _last_seq(session: CaptureSession) -> int:
    last = CaptureWindow.objects.filter(session=session).aggregate(m=Max("seq_last"))["m"]
    return -1 if last is None else last


def transcript_purge_stale(*, older_than_s: int) -> dict[str, int]:
    """Sessions that never finished: drop their transcript segments, windows and Redis audio."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stale = CaptureSession.objects.filter(created_at__lt=cutoff).exclude(status=CaptureSession.Status.DONE)
    window_ids = list(CaptureWindow.objects.filter(session__in=stale).values_list("id", flat=True))
    with transaction.atomic():
        segments, _ = TranscriptSegment.objects.filter(session__in=stale).delete()
        windows, _ = CaptureWindow.objects.filter(id__in=window_ids).delete()
        stale.filter(
            status__in=[
                CaptureSession.Status.RECORDING,
                CaptureSession.Status.PAUSED,
                CaptureSession.Status.ENDING,
            ]
        ).update(status=CaptureSession.Status.FAILED)
    audio = audio_store.window_audio_delete(window_ids=window_ids)
    return {"segments": segments, "windows": windows, "audio_keys": audio}


def windows_stuck(*, older_than_s: int) -> list:
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(
        CaptureWindow.objects.filter(status=CaptureWindow.Status.QUEUED, created_at__lt=cutoff).values_list(
            "id", flat=True
        )
    )


def recap_access_log(*, user, recap_id, action: str) -> None:
    RecapAccess.objects.create(user=user, recap_id=recap_id, action=action)
