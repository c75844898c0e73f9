"""A backup of the database holds no secret in clear (issue 19, finding 4): `pg_dump` of the test
database, searched for the plaintext of a confidential note, an import file, an API token and a
TOTP seed. PostgreSQL only (the production database); the dump's command and what the search found
are printed, so `pytest -s` shows the evidence."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.core.test_imports import CounterImporter
from tests.factories import PlaceFactory
from vigil.core import imports, services
from vigil.core.models import AuthenticatorDevice, Membership

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="pg_dump evidence is for PostgreSQL"
    ),
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed"),
]

NOTE = "Synthetic-Confidential-Note-8431"
IMPORT_CELL = "Synthetic-Import-Cell-5527"
# Printed in the clear to show the search finds what is stored in the clear.
PLACE_NAME = "Synthetic-Open-Place-Name-2209"


def _pg_dump() -> tuple[list[str], str]:
    settings = connection.settings_dict
    command = [
        "pg_dump",
        "--no-owner",
        "--host",
        settings.get("HOST") or "127.0.0.1",
        "--port",
        str(settings.get("PORT") or 5432),
        "--username",
        settings.get("USER") or "postgres",
        settings["NAME"],
    ]
    env = {"PGPASSWORD": settings.get("PASSWORD") or "", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return command, done.stdout


@pytest.mark.django_db(transaction=True)
def test_pg_dump_holds_no_plaintext_of_secrets(head, body):
    membership = Membership.objects.get(user=head, body=body)
    PlaceFactory(body=body, name=PLACE_NAME, confidential_notes=NOTE)

    counter = imports.register_importer(CounterImporter())
    try:
        imports.import_upload(
            membership=membership,
            kind="counters",
            upload=SimpleUploadedFile(
                "counters.csv", f"Title,Count,Notes\r\nA,1,{IMPORT_CELL}\r\n".encode()
            ),
        )
    finally:
        imports._IMPORTERS.pop(counter.kind)

    _token, token_key = services.api_token_create(user=head, verified=True)
    device = AuthenticatorDevice.objects.create(user=head, name="phone", confirmed=True)
    seed_hex = AuthenticatorDevice.objects.get(pk=device.pk).key
    seed_base32 = base64.b32encode(bytes.fromhex(seed_hex)).decode().rstrip("=")

    command, dump = _pg_dump()
    secrets = {
        "confidential note": NOTE,
        "import file cell": IMPORT_CELL,
        "API token": token_key,
        "TOTP seed (hex)": seed_hex,
        "TOTP seed (base32)": seed_base32,
    }
    found = {label: value in dump for label, value in secrets.items()}
    print(f"\n$ {' '.join(command)} | grep -c <plaintext>")
    print(f"dump: {len(dump):,} characters")
    print(f"control, a place name stored in clear: {'found' if PLACE_NAME in dump else 'MISSING'}")
    for label, was_found in found.items():
        print(f"{label}: {'FOUND' if was_found else 'not found'}")
    assert PLACE_NAME in dump, "the search must find what is stored in the clear"
    assert not any(found.values()), found
