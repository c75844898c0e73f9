"""Key rotation that survives missing files and interruptions, the key status report, and a
start-up check that reads stored files as well as fields."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.factories import PlaceFactory
from vigil.core import crypto
from vigil.core.checks import KEY_CHECK_PLAINTEXT, encryption_keys_check
from vigil.core.crypto import fingerprint
from vigil.core.files import read_file, replace_file_atomically, store_file, stored_path
from vigil.core.models import AuditEntry, KeyCheck, StoredFile
from vigil.places.models import Place


def _store(body, number: int) -> StoredFile:
    content = f"synthetic visit note {number}\n".encode()
    upload = SimpleUploadedFile(f"note-{number}.txt", content, content_type="text/plain")
    return store_file(actor=None, body=body, upload=upload)


def _content(number: int) -> bytes:
    return f"synthetic visit note {number}\n".encode()


def _raw_notes(place_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT confidential_notes FROM places_place WHERE id = %s", [place_id])
        return cursor.fetchone()[0]


def _on_key(key: str, token: bytes) -> bool:
    try:
        Fernet(key.encode()).decrypt(token)
    except Exception:
        return False
    return True


def _value_on_key(key: str, place: Place) -> bool:
    raw = _raw_notes(place.pk)
    return _on_key(key, raw.removeprefix(crypto.TOKEN_PREFIX).encode())


def _fresh_key_check() -> None:
    """One key check token, encrypted with the first configured key."""
    KeyCheck.objects.all().delete()
    KeyCheck.objects.create(token=crypto.encrypt_text(KEY_CHECK_PLAINTEXT))


def _rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_key(settings) -> str:
    return settings.VIGIL_ENCRYPTION_KEYS[0]


@pytest.fixture
def new_key() -> str:
    return Fernet.generate_key().decode()


def test_rotation_goes_on_past_a_missing_file_and_reports_it(body, settings, old_key, new_key):
    _fresh_key_check()
    files = [_store(body, number) for number in range(6)]
    places = [PlaceFactory(body=body, confidential_notes=f"informant {n}") for n in range(3)]
    lost = files[1]
    stored_path(lost).unlink()

    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    with pytest.raises(
        CommandError, match=r"Not finished \(values and files\): 1 file missing on disk\."
    ):
        call_command("rotate_encryption_keys", stdout=out)
    output = out.getvalue()
    assert f"Skipped stored file {lost.pk} “note-1.txt”" in output
    assert f"stored file {lost.pk} “note-1.txt” ({stored_path(lost)}): missing on disk" in output
    assert "5 files re-encrypted" in output
    assert "Apart from the missing files, the old keys protect nothing" in output
    assert "places.Place.confidential_notes: 3 values re-encrypted, 0 already on key 1" in output

    # Everything else is on the new key alone, fields and files alike.
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    for number, stored in enumerate(files):
        if stored != lost:
            assert read_file(stored) == _content(number)
    for number, place in enumerate(places):
        place.refresh_from_db()
        assert place.confidential_notes == f"informant {number}"
    # The missing file is on no key, so it does not hold the start-up key check back; the
    # start-up check still warns about it when it is in the sample.
    assert [message.id for message in encryption_keys_check()] == ["vigil.W001"]
    entry = AuditEntry.objects.get(action="core.keys.rotate")
    assert entry.changes["files"] == 5
    assert entry.changes["missing_files"] == [lost.pk]


def test_a_rerun_after_an_interrupted_rotation_finishes_it(body, settings, old_key, new_key):
    _fresh_key_check()
    files = [_store(body, number) for number in range(6)]
    places = [PlaceFactory(body=body, confidential_notes=f"informant {n}") for n in range(4)]

    # A run stopped half-way: three files and two values already on the new key.
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    for stored in files[:3]:
        path = stored_path(stored)
        plaintext = Fernet(old_key.encode()).decrypt(path.read_bytes())
        path.write_bytes(Fernet(new_key.encode()).encrypt(plaintext))
    for place in places[:2]:
        place.save()  # saved with the first key, as the running application does
    done_before = {stored.pk: stored_path(stored).read_bytes() for stored in files[:3]}
    values_before = {place.pk: _raw_notes(place.pk) for place in places[:2]}

    output = _rotate()
    assert "3 files re-encrypted" in output
    assert "places.Place.confidential_notes: 2 values re-encrypted, 2 already on key 1" in output
    assert "Every value and stored file is on key 1." in output
    # What was already on the new key is skipped, not encrypted again.
    assert {stored.pk: stored_path(stored).read_bytes() for stored in files[:3]} == done_before
    assert {place.pk: _raw_notes(place.pk) for place in places[:2]} == values_before

    # A second run finds nothing to do and changes nothing.
    everything = {stored.pk: stored_path(stored).read_bytes() for stored in files}
    output = _rotate()
    assert "0 files re-encrypted" in output
    assert "0 values re-encrypted, 4 already on key 1" in output
    assert {stored.pk: stored_path(stored).read_bytes() for stored in files} == everything

    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    assert [read_file(stored) for stored in files] == [_content(n) for n in range(6)]
    assert all(_value_on_key(new_key, place) for place in places)
    assert encryption_keys_check() == []


def test_verification_reports_a_file_left_on_the_old_key(body, settings, old_key, new_key):
    _fresh_key_check()
    _store(body, 1)
    PlaceFactory(body=body, confidential_notes="informant")
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    _rotate()

    # A worker still configured with the old key first stores a file during the change-over.
    settings.VIGIL_ENCRYPTION_KEYS = [old_key, new_key]
    late = _store(body, 2)
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]

    out = StringIO()
    with pytest.raises(CommandError, match="1 still on an old key"):
        call_command("rotate_encryption_keys", "--verify-only", stdout=out)
    output = out.getvalue()
    assert f"Key 2 [{fingerprint(old_key)}] (old key): protects 0 values and 1 file" in output
    assert f"    stored files: {late.pk}\n" in output
    assert "Key(s) 2 still protect data" in output
    # Verifying re-encrypts nothing.
    assert _on_key(old_key, stored_path(late).read_bytes())

    # Running the rotation again picks the late file up.
    output = _rotate()
    assert "1 file re-encrypted" in output
    assert _on_key(new_key, stored_path(late).read_bytes())


def test_keys_status_counts_what_each_key_protects(body, settings, old_key, new_key):
    third_key = Fernet.generate_key().decode()
    _fresh_key_check()  # on the old key
    on_old = [PlaceFactory(body=body, confidential_notes=f"old {n}") for n in range(2)]
    PlaceFactory(body=body, confidential_notes="")  # empty: nothing to protect
    old_files = [_store(body, number) for number in range(4)]
    missing, unreadable = old_files[2], old_files[3]
    stored_path(missing).unlink()
    stored_path(unreadable).write_bytes(Fernet(third_key.encode()).encrypt(b"lost"))
    lost_place = PlaceFactory(body=body, confidential_notes="placeholder")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE places_place SET confidential_notes = %s WHERE id = %s",
            [
                crypto.TOKEN_PREFIX + Fernet(third_key.encode()).encrypt(b"x").decode(),
                lost_place.pk,
            ],
        )

    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    PlaceFactory(body=body, confidential_notes="new")
    new_file = _store(body, 9)

    out = StringIO()
    call_command("vigil", "keys", "status", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines == [
        f"Key 1 [{fingerprint(new_key)}] (current key, encrypts new data): protects 1 value "
        "and 1 file",
        "    places.Place.confidential_notes: 1 value",
        f"Key 2 [{fingerprint(old_key)}] (old key): protects 3 values and 2 files",
        "    core.KeyCheck.token: 1 value",
        "    places.Place.confidential_notes: 2 values",
        f"    stored files: {old_files[0].pk}, {old_files[1].pk}",
        "No configured key decrypts: 1 value and 1 file",
        f"    places.Place.confidential_notes: 1 value (ids {lost_place.pk})",
        f"    stored file {unreadable.pk} “note-3.txt” ({stored_path(unreadable)}): "
        "no configured key decrypts it",
        "Missing on disk: 1 file",
        f"    stored file {missing.pk} “note-2.txt” ({stored_path(missing)}): missing on disk",
        *lines[11:],
    ]
    advice = "\n".join(lines[11:])
    assert "Key(s) 2 still protect data" in advice
    assert "restore them from the backup" in advice
    assert "add the key they were encrypted with" in advice
    # The keys themselves are never printed.
    assert old_key not in out.getvalue() and new_key not in out.getvalue()
    assert len(on_old) == 2 and new_file.pk not in {f.pk for f in old_files}


def test_keys_status_says_when_old_keys_may_go(body, settings, old_key, new_key):
    _fresh_key_check()
    _store(body, 1)
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    _rotate()
    out = StringIO()
    call_command("vigil", "keys", "status", stdout=out)
    assert f"Key 2 [{fingerprint(old_key)}] (old key): protects 0 values and 0 files" in (
        out.getvalue()
    )
    assert "The old keys protect nothing any more: they may be removed" in out.getvalue()
    assert "Missing on disk: 0 files" in out.getvalue()


def test_start_up_refuses_keys_that_cannot_decrypt_the_stored_files(
    body, settings, old_key, new_key
):
    files = [_store(body, number) for number in range(3)]
    _fresh_key_check()
    assert encryption_keys_check() == []

    # The key check and the fields were re-encrypted, the files not, and the old key removed.
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    _fresh_key_check()
    errors = encryption_keys_check()
    assert [error.id for error in errors] == ["vigil.E003"]
    ids = ", ".join(str(stored.pk) for stored in files)
    assert errors[0].msg == (
        "3 of the 3 stored files sampled cannot be decrypted with the configured encryption "
        f"keys (stored files {ids})."
    )

    # With the old key back, after the new one, the files are readable again.
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    assert encryption_keys_check() == []
    stored_path(files[1]).unlink()
    warnings = encryption_keys_check()
    assert [warning.id for warning in warnings] == ["vigil.W001"]
    assert f"(stored files {files[1].pk})" in warnings[0].msg


def test_start_up_check_samples_the_oldest_and_newest_files(body, settings, old_key, new_key):
    files = [_store(body, number) for number in range(25)]
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    _fresh_key_check()
    errors = encryption_keys_check()
    assert [error.id for error in errors] == ["vigil.E003"]
    sampled = [*files[:10], *files[-10:]]
    ids = ", ".join(str(stored.pk) for stored in sampled)
    assert errors[0].msg.startswith("20 of the 20 stored files sampled")
    assert f"(stored files {ids})" in errors[0].msg


def test_start_up_refuses_field_values_no_key_decrypts(body, settings, old_key, new_key):
    PlaceFactory(body=body, confidential_notes="informant")
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    _fresh_key_check()
    errors = encryption_keys_check()
    assert [error.id for error in errors] == ["vigil.E004"]
    assert "places.Place.confidential_notes" in errors[0].msg


def test_a_failed_replace_leaves_the_file_whole(tmp_path):
    path = tmp_path / "stored"
    path.write_bytes(b"the old encrypted content")
    with pytest.raises(TypeError):
        replace_file_atomically(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"the old encrypted content"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["stored"]
    replace_file_atomically(path, b"the new encrypted content")
    assert path.read_bytes() == b"the new encrypted content"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["stored"]


def test_keys_status_without_keys_says_what_to_set(db, settings):
    settings.VIGIL_ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="VIGIL_ENCRYPTION_KEYS is empty"):
        call_command("vigil", "keys", "status", stdout=StringIO())
    with pytest.raises(CommandError, match="VIGIL_ENCRYPTION_KEYS is empty"):
        call_command("rotate_encryption_keys", stdout=StringIO())


def test_the_other_vigil_subcommands_still_work():
    out = StringIO()
    call_command("vigil", "generate-key", stdout=out)
    key = Fernet(out.getvalue().strip().encode())  # a valid key, or ValueError
    assert key.decrypt(key.encrypt(b"synthetic")) == b"synthetic"
