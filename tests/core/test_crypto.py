"""Encryption at rest: no plaintext in the database, key rotation, refusal of the wrong keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tests.factories import PlaceFactory
from vigil.core import crypto
from vigil.core.checks import KEY_CHECK_PLAINTEXT, encryption_keys_check
from vigil.core.models import AuditEntry, KeyCheck


def _raw_notes(place_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT confidential_notes FROM places_place WHERE id = %s", [place_id])
        return cursor.fetchone()[0]


def test_raw_row_holds_no_plaintext(body):
    place = PlaceFactory(body=body, confidential_notes="Informant: synthetic person 42")
    raw = _raw_notes(place.pk)
    assert "Informant" not in raw
    assert raw.startswith(crypto.TOKEN_PREFIX)
    place.refresh_from_db()
    assert place.confidential_notes == "Informant: synthetic person 42"


def test_encryption_is_randomised(body):
    first = PlaceFactory(body=body, confidential_notes="same")
    second = PlaceFactory(body=body, confidential_notes="same")
    assert _raw_notes(first.pk) != _raw_notes(second.pk)


def test_empty_value_stays_empty(body):
    place = PlaceFactory(body=body, confidential_notes="")
    assert _raw_notes(place.pk) == ""


def test_rotation_re_encrypts_with_the_new_key(body, settings):
    old_key = settings.VIGIL_ENCRYPTION_KEYS[0]
    place = PlaceFactory(body=body, confidential_notes="rotate me")
    KeyCheck.objects.all().delete()
    KeyCheck.objects.create(token=crypto.encrypt_text(KEY_CHECK_PLAINTEXT))
    before = _raw_notes(place.pk)
    new_key = Fernet.generate_key().decode()
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = _raw_notes(place.pk)
    assert after != before
    # Readable with the new key alone: the old one can now be retired.
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    place.refresh_from_db()
    assert place.confidential_notes == "rotate me"
    assert encryption_keys_check() == []
    assert AuditEntry.objects.filter(action="core.keys.rotate").exists()


def test_start_up_refuses_keys_that_cannot_decrypt(body, settings):
    KeyCheck.objects.all().delete()
    KeyCheck.objects.create(token=crypto.encrypt_text(KEY_CHECK_PLAINTEXT))
    assert encryption_keys_check() == []
    settings.VIGIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    errors = encryption_keys_check()
    assert [error.id for error in errors] == ["vigil.E002"]
    settings.VIGIL_ENCRYPTION_KEYS = []
    assert [error.id for error in encryption_keys_check()] == ["vigil.E001"]


def test_wrong_key_raises_a_clear_error(body, settings):
    token = crypto.encrypt_text("secret")
    settings.VIGIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token)


def test_every_encrypted_field_is_known():
    fields = {(model._meta.label, name) for model, name in crypto.encrypted_fields()}
    assert ("places.Place", "confidential_notes") in fields
