"""Encryption at rest for sensitive fields and files, with keys kept outside the database.

Keys come from VIGIL_ENCRYPTION_KEYS (comma-separated Fernet keys): the first encrypts, every key
decrypts, so a new key can be put first and `rotate_encryption_keys` re-encrypts old values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

TOKEN_PREFIX = "fernet:"  # noqa: S105  (a marker, not a secret)


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "VIGIL_ENCRYPTION_KEYS is empty: set at least one key "
            "(`python manage.py vigil generate-key` prints one)."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"VIGIL_ENCRYPTION_KEYS holds an invalid key: {exc}") from exc


def fernet() -> MultiFernet:
    return _multifernet(tuple(settings.VIGIL_ENCRYPTION_KEYS))


def generate_key() -> str:
    return Fernet.generate_key().decode()


def encrypt_bytes(data: bytes) -> bytes:
    return fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return fernet().decrypt(token)
    except InvalidToken as exc:
        raise DecryptionError("No configured key decrypts this value.") from exc


def encrypt_text(text: str) -> str:
    return TOKEN_PREFIX + encrypt_bytes(text.encode("utf-8")).decode("ascii")


def decrypt_text(stored: str) -> str:
    if not stored.startswith(TOKEN_PREFIX):
        raise DecryptionError("The stored value is not an encrypted token.")
    return decrypt_bytes(stored[len(TOKEN_PREFIX) :].encode("ascii")).decode("utf-8")


def rotate_text(stored: str) -> str:
    """Re-encrypt a stored token with the first (current) key."""
    token = stored[len(TOKEN_PREFIX) :].encode("ascii")
    try:
        return TOKEN_PREFIX + fernet().rotate(token).decode("ascii")
    except InvalidToken as exc:
        raise DecryptionError("No configured key decrypts this value.") from exc


def rotate_bytes(token: bytes) -> bytes:
    try:
        return fernet().rotate(token)
    except InvalidToken as exc:
        raise DecryptionError("No configured key decrypts this value.") from exc


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text field stored as a Fernet token; the database never sees the plaintext.

    Encrypted values cannot be filtered or searched in SQL, on purpose. Reads of these fields
    must be audited by the service that shows them (`core.audit.audit_read`).
    """

    encrypted = True

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt_text(value)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) that holds an encrypted value, across all apps."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, EncryptedTextField):
                found.append((model, field.name))
    return found
