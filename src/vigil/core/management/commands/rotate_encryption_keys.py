"""Re-encrypt every encrypted field and stored file with the first key of VIGIL_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, models, transaction

from vigil.core.audit import audit
from vigil.core.crypto import TOKEN_PREFIX, encrypted_fields, rotate_text
from vigil.core.files import rotate_file
from vigil.core.models import KeyCheck, StoredFile


def rotate_column(model: type[models.Model], field_name: str) -> int:
    """Rotate the raw tokens of one column in SQL: the plaintext never enters a model instance,
    and the field's own encryption is not applied a second time."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = quote(model._meta.get_field(field_name).column)  # type: ignore[union-attr, arg-type]
    pk = quote(model._meta.pk.column)
    rotated = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk}, {column} FROM {table}")  # noqa: S608  (quoted names)
        rows = cursor.fetchall()
        for row_pk, value in rows:
            if not value or not str(value).startswith(TOKEN_PREFIX):
                continue
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                [rotate_text(value), row_pk],
            )
            rotated += 1
    return rotated


class Command(BaseCommand):
    help = (
        "Put the new key first in VIGIL_ENCRYPTION_KEYS, keep the old ones after it, run this, "
        "then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        with transaction.atomic():
            targets: list[tuple[type[models.Model], str]] = [
                *encrypted_fields(),
                (KeyCheck, "token"),
            ]
            for model, field_name in targets:
                rotated = rotate_column(model, field_name)
                self.stdout.write(
                    f"{model._meta.label}.{field_name}: {rotated} values re-encrypted"
                )
                total += rotated
            audit(actor=None, action="core.keys.rotate", changes={"values": total})
        files = 0
        for stored in StoredFile.objects.iterator():
            rotate_file(stored)
            files += 1
        self.stdout.write(f"Stored files: {files} re-encrypted")
