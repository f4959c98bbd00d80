import os

from celery import shared_task

from capture.audio_store import client


@shared_task(name="accounts.tasks.worker_probe")
def worker_probe(token: str) -> None:
    """Proves a task really ran in a worker: writes the worker's pid under the caller's token."""
    client().set(f"uw:probe:{token}", os.getpid(), ex=60)
