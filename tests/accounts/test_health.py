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


def test_the_worker_is_a_separate_process_answering_through_the_broker(celery_worker):
    """Control messages travel through the real broker to the worker process, which answers with its
    own pid: the worker is real and not this process (tasks are not run eagerly). The pipeline tests
    (tests/capture/test_pipeline_integration.py) prove real tasks run there end to end."""
    import os

    from undertone_web.celery import app

    stats = app.control.inspect(timeout=5).stats() or {}
    pids = {int(s["pid"]) for s in stats.values()}
    assert pids, "no worker answered"
    assert os.getpid() not in pids
    assert not app.conf.task_always_eager
