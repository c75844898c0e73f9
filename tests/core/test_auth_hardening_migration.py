"""Core's auth-hardening migration: the tokens and authenticator apps people already have keep
working, and the database is left with neither a token nor a seed in plain text."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp

from vigil.core import crypto
from vigil.core.models import ApiToken, AuthenticatorDevice, Body

pytestmark = pytest.mark.django_db(transaction=True)

OLD_KEY = "0123456789abcdef0123456789abcdef01234567"
SEED = "3132333435363738393031323334353637383930"  # the RFC 6238 test seed, hex


def _migration_parents() -> list[tuple[str, str]]:
    """The migrations core's auth-hardening migration comes right after (core's previous one,
    DRF's tokens, django-otp's TOTP devices), found by name so the test survives renumbering."""
    graph = MigrationExecutor(connection).loader.graph
    name = next(key for key in graph.nodes if key[0] == "core" and "auth_hardening" in key[1])
    return [parent.key for parent in graph.node_map[name].parents]


def test_existing_tokens_and_apps_keep_working_and_are_no_longer_plain(body):
    parents = _migration_parents()
    before = next(key for key in parents if key[0] == "core")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old_apps = executor.loader.project_state(parents).apps
    user_model = old_apps.get_model("auth", "User")
    person = user_model.objects.create(username="legacy-person", is_active=True)
    old_apps.get_model("core", "Membership").objects.create(
        user_id=person.pk, body_id=body.pk, role="monitor", created_at=timezone.now()
    )
    old_apps.get_model("authtoken", "Token").objects.create(key=OLD_KEY, user_id=person.pk)
    old_apps.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=person.pk, name="phone", confirmed=True, key=SEED, last_t=7
    )
    old_apps.get_model("core", "Body").objects.filter(pk=body.pk).update(require_totp=True)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    token = ApiToken.objects.get(user_id=person.pk)
    assert token.key_hash == hashlib.sha256(OLD_KEY.encode()).hexdigest()
    assert token.prefix == OLD_KEY[:8]
    device = AuthenticatorDevice.objects.get(user_id=person.pk)
    assert (device.key, device.confirmed, device.last_t) == (SEED, True, 7)
    assert Body.objects.get(pk=body.pk).totp_required_since is not None

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT COUNT(*) FROM otp_totp_totpdevice")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT * FROM core_apitoken")
        assert all(OLD_KEY not in str(value) for value in cursor.fetchone())
        cursor.execute("SELECT key FROM core_authenticatordevice")
        raw_seed = cursor.fetchone()[0]
    assert SEED not in raw_seed
    assert raw_seed.startswith(crypto.TOKEN_PREFIX)

    # The old key still opens the API (the person has an app, as the body requires), and the
    # phone set up with the old seed still makes codes Vigil accepts.
    response = Client(HTTP_AUTHORIZATION=f"Token {OLD_KEY}").get("/api/v1/places/")
    assert response.status_code == 200
    code = f"{totp(bytes.fromhex(SEED), step=30, digits=6):06d}"
    assert device.verify_token(code)
