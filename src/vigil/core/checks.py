"""Start-up checks: refuse to run with encryption keys that cannot read existing records."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.db import DatabaseError, connection

KEY_CHECK_PLAINTEXT = "vigil-key-check"


@register("vigil", deploy=False)
def encryption_keys_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from vigil.core.crypto import DecryptionError, decrypt_text
    from vigil.core.models import KeyCheck

    if not settings.VIGIL_ENCRYPTION_KEYS:
        return [
            Error(
                "VIGIL_ENCRYPTION_KEYS is not set.",
                hint="Generate a key with `python manage.py vigil generate-key` and keep a copy "
                "with your backups: without it the encrypted data cannot be read.",
                id="vigil.E001",
            )
        ]
    try:
        if "core_keycheck" not in connection.introspection.table_names():
            return []
        tokens = list(KeyCheck.objects.values_list("token", flat=True)[:5])
    except DatabaseError:
        return []
    for token in tokens:
        try:
            if decrypt_text(token) == KEY_CHECK_PLAINTEXT:
                continue
        except DecryptionError:
            pass
        return [
            Error(
                "The configured encryption keys cannot decrypt this database's records.",
                hint="Restore the key that was in use (see the README's backup section), "
                "or list it after the new key in VIGIL_ENCRYPTION_KEYS.",
                id="vigil.E002",
            )
        ]
    return []
