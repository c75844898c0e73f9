"""Start-up checks: refuse to run with encryption keys that cannot read existing records and
files, and warn about stored files missing on disk."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

KEY_CHECK_PLAINTEXT = "vigil-key-check"
# A bounded sample keeps every start cheap: this many oldest and as many newest stored files,
# and values of each encrypted field. A full count is `manage.py vigil keys status`.
SAMPLED_FILES = 10
SAMPLED_VALUES = 5
STATUS_HINT = "`python manage.py vigil keys status` counts every value and file per key."


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
        tables = set(connection.introspection.table_names())
        if "core_keycheck" not in tables:
            return []
        tokens = list(KeyCheck.objects.values_list("token", flat=True)[:5])
    except DatabaseError:
        return []
    try:
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
                    "or list it after the new key in VIGIL_ENCRYPTION_KEYS. A key rotation "
                    "that did not finish also leaves this check on the old key. " + STATUS_HINT,
                    id="vigil.E002",
                )
            ]
        return _sampled_data_check(tables)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="vigil.E005")]


def _sampled_data_check(tables: set[str]) -> list[CheckMessage]:
    """Decrypt a sample of the stored files and of each encrypted field with the configured keys."""
    from vigil.core import keys
    from vigil.core.crypto import Keyring
    from vigil.core.models import StoredFile

    keyring = Keyring.from_settings()
    if StoredFile._meta.db_table not in tables:
        return []  # not migrated yet: nothing can have been stored
    # An app whose tables are not created yet has nothing stored either.
    columns = [column for column in keys.value_columns() if column.model._meta.db_table in tables]
    try:
        report, sampled = keys.scan_sample(
            keyring, columns, files=SAMPLED_FILES, values=SAMPLED_VALUES
        )
    except DatabaseError:
        return []
    messages: list[CheckMessage] = []
    if report.unreadable_files:
        messages.append(
            Error(
                f"{len(report.unreadable_files)} of the {sampled} stored files sampled cannot be "
                "decrypted with the configured encryption keys (stored files "
                f"{_ids(problem.id for problem in report.unreadable_files)}).",
                hint="Add the key they were encrypted with to VIGIL_ENCRYPTION_KEYS, after the "
                "current key. " + STATUS_HINT,
                id="vigil.E003",
            )
        )
    unreadable_fields = sorted(label for label, counts in report.values.items() if counts[None])
    if unreadable_fields:
        messages.append(
            Error(
                "The configured encryption keys cannot decrypt some sampled values of "
                f"{', '.join(unreadable_fields)}.",
                hint="Add the key they were encrypted with to VIGIL_ENCRYPTION_KEYS, after the "
                "current key. " + STATUS_HINT,
                id="vigil.E004",
            )
        )
    if report.missing_files:
        messages.append(
            Warning(
                f"{len(report.missing_files)} of the {sampled} stored files sampled are missing "
                f"on disk (stored files {_ids(problem.id for problem in report.missing_files)}).",
                hint="Check VIGIL_MEDIA_ROOT, and restore the files from the backup of the "
                "media directory. " + STATUS_HINT,
                id="vigil.W001",
            )
        )
    return messages


def _ids(ids: Any) -> str:
    return ", ".join(str(pk) for pk in sorted(ids))
