"""Celery tasks of capture. They take ids, never audio or text, re-fetch their rows and are idempotent,
so acks_late redelivery (a killed worker) repeats no work twice. Logs carry ids and counts only."""

import logging

from celery import shared_task
from django.conf import settings

from undertone_web.redaction import content_free_errors

from . import batching, services

log = logging.getLogger(__name__)


@shared_task(
    name="capture.tasks.transcribe_window",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def transcribe_window(window_id: str) -> None:
    """Makes sure this window is transcribed, and takes other queued windows into the same batched
    model call (capture/batching.py has the claims and why exactly-once still holds)."""
    batching.run(
        window_id,
        resend=lambda countdown_s: transcribe_window.apply_async((window_id,), countdown=countdown_s),
    )


@shared_task(name="capture.tasks.purge_stale")
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def purge_stale() -> None:
    removed = services.transcript_purge_stale(older_than_s=settings.CAPTURE["PURGE_AFTER_S"])
    log.info("purge: removed %s", removed)


@shared_task(name="capture.tasks.requeue_stuck_windows")
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def requeue_stuck_windows() -> None:
    """Safety net beside acks_late: a window queued long ago whose task vanished (a broker restart)
    is enqueued again; the task is idempotent, so a duplicate costs nothing."""
    for window_id in services.windows_stuck(older_than_s=settings.CAPTURE["REQUEUE_AFTER_S"]):
        transcribe_window.delay(str(window_id))
