"""API tokens: kept only as a hash, shown once, and subject to the two-factor requirement of the
body they act in (a token is a password that never asks for a code)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, PlaceFactory
from vigil.core.models import ApiToken, AuditEntry, AuthenticatorDevice, Role

pytestmark = pytest.mark.django_db

LIST = "/api/v1/places/"


def api_with(key: str, **headers: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", **headers)
    return client


def create_on_the_account_page(client) -> str:
    response = client.post(reverse("api_token"), {"action": "create"})
    assert response.status_code == 200, response
    return re.search(r'id="api-token-value"[^>]*value="([0-9a-f]+)"', response.content.decode())[1]


def code_for(device: AuthenticatorDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


@pytest.fixture
def requiring_body(body):
    body.require_totp = True
    body.totp_required_since = timezone.now()
    body.save(update_fields=["require_totp", "totp_required_since"])
    return body


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


# ---------- Stored as a hash ----------


def test_the_database_holds_no_token_in_plain_text(client_for, monitor):
    key = create_on_the_account_page(client_for(monitor))
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        rows = cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        legacy = cursor.fetchone()[0]
    assert len(rows) == 1
    assert all(key not in str(value) for value in rows[0])
    assert legacy == 0
    token = ApiToken.objects.get(user=monitor)
    assert token.prefix == key[:8]
    assert len(key) >= 40


def test_the_token_authenticates_with_the_usual_header(client_for, monitor, body):
    PlaceFactory(body=body, name="Central Prison")
    key = create_on_the_account_page(client_for(monitor))
    response = api_with(key).get(LIST)
    assert response.status_code == 200
    assert [place["name"] for place in response.json()["results"]] == ["Central Prison"]
    assert ApiToken.objects.get(user=monitor).last_used_at is not None


def test_a_wrong_or_revoked_token_is_refused(client_for, monitor, body):
    client = client_for(monitor)
    key = create_on_the_account_page(client)
    assert api_with(key[:-1] + ("0" if key[-1] != "0" else "1")).get(LIST).status_code == 401
    # The hash itself, as someone reading the database would find it, is not a key.
    assert api_with(ApiToken.objects.get().key_hash).get(LIST).status_code == 401
    client.post(reverse("api_token"), {"action": "revoke"})
    response = api_with(key).get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_the_token_of_a_deactivated_account_is_refused(monitor, body):
    _token, key = ApiToken.issue(monitor)
    monitor.is_active = False
    monitor.save(update_fields=["is_active"])
    assert api_with(key).get(LIST).status_code == 401


def test_last_use_is_written_at_most_once_a_minute(monitor, body):
    token, key = ApiToken.issue(monitor)
    client = api_with(key)
    client.get(LIST)
    token.refresh_from_db()
    first_use = token.last_used_at
    client.get(LIST)
    token.refresh_from_db()
    assert token.last_used_at == first_use
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    client.get(LIST)
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(minutes=2)


# ---------- Two-factor ----------


def test_a_token_is_refused_in_a_body_that_requires_two_factor_without_an_app(
    monitor, requiring_body
):
    """The review's case: the body requires a code, the token returned its places anyway."""
    PlaceFactory.create_batch(3, body=requiring_body)
    _token, key = ApiToken.issue(monitor)
    response = api_with(key).get(LIST)
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "requires two-factor sign-in" in detail
    assert "authenticator app" in detail
    assert "results" not in response.json()


def test_a_token_works_in_that_body_once_its_owner_has_an_app(monitor, requiring_body):
    AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    _token, key = ApiToken.issue(monitor)
    assert api_with(key).get(LIST).status_code == 200


def test_an_unconfirmed_app_does_not_count(monitor, requiring_body):
    AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=False)
    _token, key = ApiToken.issue(monitor)
    assert api_with(key).get(LIST).status_code == 403


def test_the_body_a_token_acts_in_decides(monitor, requiring_body, other_body):
    """The same token works in a body without the requirement (X-Vigil-Body), not in one with."""
    MembershipFactory(user=monitor, body=other_body, role=Role.MONITOR)
    PlaceFactory(body=other_body, name="Other Prison")
    _token, key = ApiToken.issue(monitor)
    other = api_with(key, HTTP_X_VIGIL_BODY=other_body.slug).get(LIST)
    assert other.status_code == 200
    assert [place["name"] for place in other.json()["results"]] == ["Other Prison"]
    required = api_with(key, HTTP_X_VIGIL_BODY=requiring_body.slug).get(LIST)
    assert required.status_code == 403


def test_a_password_only_session_cannot_create_a_token_when_the_body_requires_a_code(
    client_for, monitor, requiring_body
):
    client = client_for(monitor)
    response = client.post(reverse("api_token"), {"action": "create"})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=monitor).exists()
    assert not AuditEntry.objects.filter(action="core.token.create").exists()


def test_a_person_with_an_app_creates_a_token_only_after_the_code(client_for, monitor, body):
    device = AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    client = client_for(monitor)  # signed in with the password only
    response = client.post(reverse("api_token"), {"action": "create"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('otp_verify')}?next=%2Faccount%2F"
    assert not ApiToken.objects.filter(user=monitor).exists()

    client.post(reverse("otp_verify"), {"token": code_for(device)})
    key = create_on_the_account_page(client)
    assert api_with(key).get(LIST).status_code == 200


def test_a_person_without_app_or_requirement_creates_a_token_freely(client_for, monitor, body):
    key = create_on_the_account_page(client_for(monitor))
    assert ApiToken.objects.get(user=monitor).key_hash == ApiToken.hash_key(key)
