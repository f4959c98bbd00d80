import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "undertone_web.settings.base")
# One thread per process for numpy's BLAS (before numpy loads): each worker is one single-thread
# process per core (settings.WHISPER_CPU_THREADS), and speaker segmentation's small matrix products
# (capture/speakers.py) spread over every core otherwise, twice the CPU for the same work.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

app = Celery("undertone_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_recap_engine(**_kwargs) -> None:
    """Load the recap engine's lexicon (lemminflect's tables) and topic index once per worker process,
    so the first Stop of a process does not pay ~0.9 s for it (bench/recap_build.py, cold vs warm)."""
    from recaps.engines import warm_up

    warm_up()
