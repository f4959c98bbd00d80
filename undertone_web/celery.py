import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "undertone_web.settings.base")

app = Celery("undertone_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="undertone_web.ping")
def ping() -> str:
    return "pong"
