import pytest
from django.test import override_settings


@pytest.mark.django_db(transaction=True)
def test_healthz_all_ok_with_real_redis_and_worker(client, celery_worker, redis_client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"db": "ok", "redis": "ok", "celery": "ok"}


@pytest.mark.django_db
def test_healthz_names_redis_when_it_is_down(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["db"] == "ok"
    assert body["redis"].startswith("error")


def test_real_redis_round_trip(redis_client):
    redis_client.set("uw:test:probe", b"\x00\x01", ex=5)
    assert redis_client.get("uw:test:probe") == b"\x00\x01"
    assert 0 < redis_client.ttl("uw:test:probe") <= 5
    redis_client.delete("uw:test:probe")


@pytest.mark.django_db(transaction=True)
def test_real_celery_task_runs_in_the_worker_not_eagerly(celery_worker, redis_client):
    import os
    import time
    import uuid

    from accounts.tasks import worker_probe

    token = uuid.uuid4().hex
    worker_probe.delay(token)
    deadline = time.monotonic() + 20
    value = None
    while value is None and time.monotonic() < deadline:
        value = redis_client.get(f"uw:probe:{token}")
        time.sleep(0.1)
    assert value is not None, "the worker did not run the task"
    assert int(value) != os.getpid(), "the task ran in the test process (eager), not in the worker"
