"""Window audio in Redis: the only place audio rests, with a TTL, until its window is transcribed.
Redis runs with persistence off, so nothing reaches disk."""

from functools import lru_cache

import redis
from django.conf import settings

KEY_PREFIX = "uw:audio:"


@lru_cache(maxsize=2)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def audio_key(window_id) -> str:
    return f"{KEY_PREFIX}{window_id}"


def window_audio_put(*, window_id, pcm: bytes) -> None:
    client().set(audio_key(window_id), pcm, ex=settings.CAPTURE["WINDOW_AUDIO_TTL_S"])


def window_audio_get(*, window_id) -> bytes | None:
    return client().get(audio_key(window_id))


def window_audio_exists(*, window_id) -> bool:
    return bool(client().exists(audio_key(window_id)))


def window_audio_delete(*, window_ids) -> int:
    keys = [audio_key(w) for w in window_ids]
    return client().delete(*keys) if keys else 0
