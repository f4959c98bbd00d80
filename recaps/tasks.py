"""Celery tasks of recaps. They take ids, never text, and are idempotent, so acks_late redelivery (a
killed worker) repeats no work twice. Logs carry ids and counts only."""

import logging

from celery import shared_task

from capture import services as capture_services
from undertone_web.redaction import content_free_errors

from . import reminders, services

log = logging.getLogger(__name__)


@shared_task(name="recaps.tasks.recap_build")
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def recap_build(session_id: str) -> None:
    recap = services.recap_build(session_id=session_id)
    if recap is not None:
        polishing = bool(recap.data.get("polishing"))
        capture_services.group_send(
            capture_services.session_group(session_id),
            {"type": "capture.done", "recap_id": str(recap.id), "polishing": polishing},
        )
        if polishing:
            recap_polish.delay(str(recap.id))  # routed to the "llm" queue (settings.CELERY_TASK_ROUTES)


# A chunk's notes while the session records (the map step); on the "llm" queue, like recap_polish.
@shared_task(name="recaps.tasks.recap_notes", time_limit=900, soft_time_limit=840)
@content_free_errors
def recap_notes(session_id: str, chunk: int) -> None:
    services.recap_notes(session_id=session_id, chunk=chunk)


def notes_when_due(session_id) -> None:
    """On each window commit of a recording session (capture.signals.transcript_committed): the chunks
    complete since the last commit get their notes task. Nothing to do without a model server."""
    from django.conf import settings

    if not settings.RECAP_LLM_URL.strip():
        return
    for chunk in services.recap_notes_due(session_id=session_id):
        recap_notes.delay(str(session_id), chunk)  # ids and a number, never text


# A model server may take minutes for a long session; its own worker has no window to wait for.
@shared_task(name="recaps.tasks.recap_polish", time_limit=1800, soft_time_limit=1700)
@content_free_errors
def recap_polish(recap_id: str) -> None:
    session_id = services.recap_session_id(recap_id=recap_id)

    def progress(step: int, steps: int) -> None:
        # The page still open on the session shows how far the model has got.
        if session_id is not None:
            group = capture_services.session_group(session_id)
            capture_services.group_send(group, {"type": "capture.polishing", "step": step, "steps": steps})

    try:
        services.recap_polish(recap_id=recap_id, on_progress=progress)
    finally:
        # A page still open on the session hears that the final recap is there (or that it is not).
        if session_id is not None:
            group = capture_services.session_group(session_id)
            capture_services.group_send(group, {"type": "capture.polished"})


# Beat, every 10 minutes (settings.CELERY_BEAT_SCHEDULE). Idempotent: a reminder is recorded before it
# is sent, so a repeated or overlapping run sends nothing twice (recaps/reminders.py).
@shared_task(name="recaps.tasks.reminders_send")
@content_free_errors
def reminders_send() -> None:
    reminders.reminders_send()
