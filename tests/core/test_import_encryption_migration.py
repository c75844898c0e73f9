"""The migration that encrypts the import files and cells already in the database, both ways."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from vigil.core import crypto
from vigil.core.models import TabularImport

SECRET = "Synthetic-Witness-Statement-0815"


def _migration_names() -> tuple[str, str]:
    """(the import encryption migration, the one before it), found by name so that renumbering
    the migration does not break this test."""
    graph = MigrationExecutor(connection).loader.graph
    (target,) = [
        name for app, name in graph.nodes if app == "core" and name.endswith("_import_encryption")
    ]
    (parent,) = [name for app, name in graph.node_map[("core", target)].parents if app == "core"]
    return target, parent


def _migrate(name: str) -> None:
    call_command("migrate", "core", name, verbosity=0)


def _raw(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data, summary FROM core_tabularimport WHERE id = %s", [pk])
        data, summary = cursor.fetchone()
    return str(data), str(summary)


@pytest.mark.django_db(transaction=True)
def test_existing_imports_are_encrypted_and_can_be_decrypted_back():
    target, parent = _migration_names()
    _migrate(parent)
    try:
        old_apps = MigrationExecutor(connection).loader.project_state(("core", parent)).apps
        OldBody = old_apps.get_model("core", "Body")
        OldImport = old_apps.get_model("core", "TabularImport")
        body = OldBody.objects.create(name="Synthetic body", slug="synthetic")
        file = f"Title,Notes\r\nA,{SECRET}\r\n".encode()
        old = OldImport.objects.create(
            body=body,
            kind="counters",
            file_name="counters.csv",
            data=file,
            headers=["Title", "Notes"],
            summary={
                "samples": [["A"], [SECRET]],
                "preview": [{"row": 2, "values": [SECRET]}],
                "format": "csv",
            },
            errors=[{"row": 2, "column": "Notes", "field": "notes", "message": SECRET}],
        )

        _migrate(target)

        data, summary = _raw(old.pk)
        assert data.startswith(crypto.TOKEN_PREFIX)
        assert SECRET not in data and SECRET not in summary
        # Columns added by later migrations are not there yet.
        imp = TabularImport.objects.defer("options", "headers_key", "validated").get(pk=old.pk)
        assert bytes(imp.data) == file
        assert imp.samples == [["A"], [SECRET]]
        assert imp.preview == [{"row": 2, "values": [SECRET]}]
        assert imp.errors[0]["message"] == SECRET
        assert imp.summary == {"format": "csv"}
        assert imp.body.import_retention_days == 30

        _migrate(parent)

        back = OldImport.objects.get(pk=old.pk)
        assert bytes(back.data) == file
        assert back.summary["samples"] == [["A"], [SECRET]]
        assert back.errors[0]["message"] == SECRET
    finally:
        call_command("migrate", verbosity=0)
