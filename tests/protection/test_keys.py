"""Key rotation re-encrypts cases and persons at risk written under the old key; a wrong key
gives a clear error, never garbage or a silent empty value."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from tests.protection.conftest import IDENTITY, NARRATIVE
from vigil.core.crypto import DecryptionError
from vigil.protection.models import Case, ProtectedPerson

pytestmark = pytest.mark.django_db


def test_rotation_moves_protection_data_to_the_new_key(settings, case, person):
    old_key = settings.VIGIL_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "protection.Case.identity" in out.getvalue()
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.identity == IDENTITY and fresh.narrative == NARRATIVE
    assert ProtectedPerson.objects.get(pk=person.pk).identity == IDENTITY


def test_a_wrong_key_is_a_clear_error(settings, case):
    settings.VIGIL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError):
        Case.objects.get(pk=case.pk)
