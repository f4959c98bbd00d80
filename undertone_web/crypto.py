"""Encryption at rest for recaps and transcript segments.

A thin field on `cryptography`'s MultiFernet rather than a Django wrapper package: in 2026-11
django-fernet-encrypted-fields derives its keys from SECRET_KEY and returns the *ciphertext* when a
key is wrong (fails open), and django-cryptography-django5 has no key rotation. Here the keys come from
RECAP_ENCRYPTION_KEYS (never SECRET_KEY), the first key encrypts, all keys decrypt (rotation), and a
value no key can open raises DecryptionError (fails closed)."""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(Exception):
    """Stored ciphertext could not be opened with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("RECAP_ENCRYPTION_KEYS is empty: run `make run` or set it.")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.RECAP_ENCRYPTION_KEYS))


def encrypt_text(value: str) -> str:
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from exc


def rotate_token(token: str) -> str:
    """Re-encrypt with the first (current) key; raises DecryptionError if no key opens it."""
    try:
        return fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from exc


class EncryptedTextField(models.TextField):
    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt_text(str(value))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return decrypt_text(value)


class EncryptedJSONField(models.TextField):
    """JSON document stored as one Fernet token."""

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return json.loads(decrypt_text(value))

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value)
        return value
