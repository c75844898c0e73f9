"""On PostgreSQL, the pg_trgm extension that ranks similar recommendations (recurrence). Where
it cannot be created (no right to), suggestions fall back to the Python word-overlap score."""

from django.db import migrations, transaction


def create_extension(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001, S110  (a missing right leaves the Python fallback)
        pass


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0002_authorities_from_places")]

    operations = [migrations.RunPython(create_extension, migrations.RunPython.noop)]
