"""Encryption at rest for sensitive fields and files, with keys kept outside the database.

Keys come from VIGIL_ENCRYPTION_KEYS (comma-separated Fernet keys): the first encrypts, every key
decrypts, so a new key can be put first and `rotate_encryption_keys` re-encrypts old values
(`core/keys.py` finds which key protects what).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
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


def fingerprint(key: str) -> str:
    """A short name for a key that administrators can compare, and that does not reveal it."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class Keyring:
    """The configured keys one by one, so a caller learns which key protects a token.

    `fernet()` answers "can any key read this?"; rotation and `vigil keys status` need to know
    *which* key does, to skip what is already on the first key and to count what an old key still
    protects.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ImproperlyConfigured(
                "VIGIL_ENCRYPTION_KEYS is empty: set at least one key "
                "(`python manage.py vigil generate-key` prints one)."
            )
        try:
            self._fernets = [Fernet(key.encode()) for key in keys]
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"VIGIL_ENCRYPTION_KEYS holds an invalid key: {exc}"
            ) from exc
        self.fingerprints = [fingerprint(key) for key in keys]

    @classmethod
    def from_settings(cls) -> Keyring:
        return cls(tuple(settings.VIGIL_ENCRYPTION_KEYS))

    def find(self, token: bytes) -> tuple[int, bytes] | None:
        """(position of the first key that decrypts `token`, the plaintext), or None when no
        configured key does. The first key is tried alone first, so data already rotated costs
        one attempt."""
        for position, key in enumerate(self._fernets):
            try:
                return position, key.decrypt(token)
            except InvalidToken:
                continue
        return None

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt with the first key, as every new value is."""
        return self._fernets[0].encrypt(data)


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text field stored as a Fernet token; the database never sees the plaintext.

    Encrypted values cannot be filtered or searched in SQL, on purpose. Reads of these fields
    must be audited by the service that shows them (`core.audit.audit_read`).
    """

    encrypted = True
    # Whether one value may be megabytes (a file): key rotation then reads them one at a time,
    # and the start-up check samples fewer of them (`core/keys.py`).
    large_values = False

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt_text(value)


def _own_defaults(
    field: models.Field, kwargs: dict[str, Any], defaults: tuple[tuple[str, Any], ...]
) -> dict[str, Any]:
    """A migration's arguments for a field whose defaults differ from Django's: a value equal to
    the field's own default is left out, any other is written, even when it is Django's default
    (`editable=True` would otherwise be dropped and come back as False)."""
    for key, default in defaults:
        value = getattr(field, key)
        if value == default:
            kwargs.pop(key, None)
        else:
            kwargs[key] = value
    return kwargs


class EncryptedBinaryField(models.TextField):  # type: ignore[type-arg]
    """Bytes (an uploaded file) stored as a Fernet token in a text column, like
    `EncryptedTextField`: `fernet:<token>`, so key rotation treats both alike. Empty bytes are
    stored as an empty string, which is how a deleted file is kept."""

    encrypted = True
    large_values = True
    # The Python types django-stubs gives the attribute (the column is text).
    _pyi_private_set_type: bytes | memoryview  # type: ignore[assignment]
    _pyi_private_get_type: bytes  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", b"")
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        return (
            name,
            path,
            args,
            _own_defaults(self, kwargs, (("editable", False), ("default", b""), ("blank", True))),
        )

    def to_python(self, value: Any) -> Any:
        # Serialised (dumpdata) as base64, as Django's BinaryField is.
        if isinstance(value, str):
            return base64.b64decode(value.encode("ascii"))
        return value

    def value_to_string(self, obj: models.Model) -> str:
        return base64.b64encode(bytes(self.value_from_object(obj) or b"")).decode("ascii")

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        data = bytes(value)
        if not data:
            return ""
        return TOKEN_PREFIX + encrypt_bytes(data).decode("ascii")

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        if value == "":
            return b""
        if not value.startswith(TOKEN_PREFIX):
            raise DecryptionError("The stored value is not an encrypted token.")
        return decrypt_bytes(value[len(TOKEN_PREFIX) :].encode("ascii"))


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """A JSON value (lists, dicts, text, numbers) stored as a Fernet token of its JSON text.

    None is stored as an empty string: what is left once a value has been deleted.
    """

    encrypted = True
    large_values = True
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        return name, path, args, _own_defaults(self, kwargs, (("editable", False), ("blank", True)))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return ""
        return encrypt_text(json.dumps(value, separators=(",", ":")))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(decrypt_text(value))


ENCRYPTED_FIELD_TYPES = (EncryptedTextField, EncryptedBinaryField, EncryptedJSONField)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) that holds an encrypted value, across all apps."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        if model._meta.proxy:  # a proxy shares its concrete model's table
            continue
        # Local fields only: a field inherited through multi-table inheritance lives in (and is
        # found through) its parent's table.
        for field in model._meta.local_concrete_fields:
            if isinstance(field, ENCRYPTED_FIELD_TYPES):
                found.append((model, field.name))
    return found
