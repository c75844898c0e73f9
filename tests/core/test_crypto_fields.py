"""The encrypted model fields, method by method: what reaches the column, what comes back, and
what a migration records. Written from the survivors of mutation testing (bench/mutation.py):
the fields' other tests go through one model, these break when any one rule of a field does."""

from __future__ import annotations

import base64

import pytest

from vigil.core import crypto
from vigil.core.crypto import (
    TOKEN_PREFIX,
    DecryptionError,
    EncryptedBinaryField,
    EncryptedJSONField,
    EncryptedTextField,
)

SECRET = b"Synthetic interview note \x00\xff"


def test_binary_field_stores_a_token_and_reads_the_bytes_back():
    field = EncryptedBinaryField()
    stored = field.get_prep_value(SECRET)
    assert stored.startswith(TOKEN_PREFIX)
    assert SECRET not in stored.encode()
    assert field.from_db_value(stored, None, None) == SECRET
    assert field.get_prep_value(memoryview(SECRET)).startswith(TOKEN_PREFIX)


def test_binary_field_keeps_empty_as_empty_and_none_as_none():
    field = EncryptedBinaryField()
    assert field.get_prep_value(b"") == ""
    assert field.from_db_value("", None, None) == b""
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, None) is None


def test_binary_field_refuses_a_value_that_is_not_a_token():
    with pytest.raises(DecryptionError):
        EncryptedBinaryField().from_db_value("plain text", None, None)


def test_binary_field_serialises_as_base64_both_ways():
    field = EncryptedBinaryField()
    encoded = base64.b64encode(SECRET).decode("ascii")
    assert field.to_python(encoded) == SECRET
    assert field.to_python(SECRET) == SECRET


def test_fields_record_only_what_differs_from_their_defaults_in_migrations():
    assert EncryptedBinaryField().deconstruct()[3] == {}
    assert EncryptedJSONField().deconstruct()[3] == {}
    changed = EncryptedBinaryField(editable=True, blank=False, default=b"x").deconstruct()[3]
    assert changed == {"editable": True, "blank": False, "default": b"x"}
    changed = EncryptedJSONField(editable=True, blank=False).deconstruct()[3]
    assert changed == {"editable": True, "blank": False}


def test_json_field_round_trip_and_empty():
    field = EncryptedJSONField()
    stored = field.get_prep_value({"name": "Synthetic Witness"})
    assert "Synthetic" not in stored
    assert field.from_db_value(stored, None, None) == {"name": "Synthetic Witness"}
    assert field.get_prep_value(None) == ""
    assert field.from_db_value("", None, None) is None
    assert field.from_db_value(None, None, None) is None
    assert field.to_python('["a"]') == ["a"]
    assert field.to_python("not json") == "not json"
    assert field.to_python("") == ""


def test_text_field_round_trip_and_empty():
    field = EncryptedTextField()
    stored = field.get_prep_value("Synthetic note")
    assert "Synthetic" not in stored
    assert field.from_db_value(stored, None, None) == "Synthetic note"
    assert field.get_prep_value("") == ""
    assert field.get_prep_value(None) is None
    assert field.from_db_value("", None, None) == ""
    assert field.from_db_value(None, None, None) is None


def test_the_first_key_encrypts_and_every_key_decrypts(settings):
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.VIGIL_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt_text("Synthetic")
    settings.VIGIL_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt_text(token) == "Synthetic"
    fresh = crypto.encrypt_text("Synthetic")
    settings.VIGIL_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt_text(fresh) == "Synthetic"
    with pytest.raises(DecryptionError):
        crypto.decrypt_text(token)


def test_fields_that_hold_files_are_read_one_at_a_time_by_key_rotation():
    # core/keys.py reads `large_values` fields one record at a time and samples fewer of them at
    # start-up: an import file or its rejected rows can be megabytes.
    assert EncryptedBinaryField.large_values is True
    assert EncryptedJSONField.large_values is True
    assert EncryptedTextField.large_values is False
