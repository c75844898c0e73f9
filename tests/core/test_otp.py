"""Two-factor sign-in with a TOTP app: set-up, confirmation, the verify step a body can require."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp

from vigil.core.models import AuditEntry, AuthenticatorDevice

pytestmark = pytest.mark.django_db


def code_for(device: AuthenticatorDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


def wrong_code_for(device: AuthenticatorDevice) -> str:
    return f"{(int(code_for(device)) + 1) % 10**device.digits:0{device.digits}d}"


@pytest.fixture
def requiring_body(body):
    body.require_totp = True
    body.save(update_fields=["require_totp"])
    return body


@pytest.fixture
def device(monitor) -> AuthenticatorDevice:
    return AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    # django-otp slows down guessing by refusing codes for a while after a wrong one; the tests
    # that type a wrong code and then the right one are not about that delay.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


# ---------- Set-up ----------


def test_setup_shows_a_qr_code_and_the_secret_as_text(client_for, monitor):
    response = client_for(monitor).get(reverse("otp_setup"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html
    assert "<?xml" not in html
    pending = AuthenticatorDevice.objects.get(user=monitor, confirmed=False)
    from base64 import b32encode

    secret = b32encode(pending.bin_key).decode().rstrip("=")
    assert secret[:4] in html
    assert 'autocomplete="one-time-code"' in html


def test_reloading_setup_keeps_the_same_secret(client_for, monitor):
    client = client_for(monitor)
    client.get(reverse("otp_setup"))
    client.get(reverse("otp_setup"))
    assert AuthenticatorDevice.objects.filter(user=monitor).count() == 1


def test_setup_confirms_with_a_first_code(client_for, monitor):
    client = client_for(monitor)
    client.get(reverse("otp_setup"))
    pending = AuthenticatorDevice.objects.get(user=monitor)
    response = client.post(reverse("otp_setup"), {"token": code_for(pending)})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.confirmed
    assert client.session.get("otp_device_id") == pending.persistent_id
    entry = AuditEntry.objects.get(action="core.otp.enable")
    assert entry.actor == monitor
    assert pending.key not in str(entry.changes)


def test_setup_refuses_a_wrong_code(client_for, monitor):
    client = client_for(monitor)
    client.get(reverse("otp_setup"))
    pending = AuthenticatorDevice.objects.get(user=monitor)
    response = client.post(reverse("otp_setup"), {"token": wrong_code_for(pending)})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    pending.refresh_from_db()
    assert not pending.confirmed
    assert not AuditEntry.objects.filter(action="core.otp.enable").exists()


def test_unverified_user_cannot_replace_or_remove_their_app(client_for, monitor, device):
    client = client_for(monitor)
    response = client.post(reverse("otp_setup"), {"action": "remove"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("otp_verify"))
    assert AuthenticatorDevice.objects.filter(pk=device.pk, confirmed=True).exists()


def test_verified_user_can_remove_their_app(client_for, monitor, device):
    client = client_for(monitor)
    client.post(reverse("otp_verify"), {"token": code_for(device)})
    assert client.get(reverse("otp_setup")).status_code == 200
    response = client.post(reverse("otp_setup"), {"action": "remove"})
    assert response.status_code == 302
    assert not AuthenticatorDevice.objects.filter(user=monitor).exists()
    assert AuditEntry.objects.get(action="core.otp.disable").actor == monitor


def test_verified_user_can_replace_their_app(client_for, monitor, device):
    client = client_for(monitor)
    client.post(reverse("otp_verify"), {"token": code_for(device)})
    response = client.post(reverse("otp_setup"), {"action": "replace"})
    assert response.status_code == 200
    new = AuthenticatorDevice.objects.get(user=monitor, confirmed=False)
    response = client.post(reverse("otp_setup"), {"action": "replace", "token": code_for(new)})
    assert response.status_code == 302
    remaining = AuthenticatorDevice.objects.filter(user=monitor).values_list("pk", flat=True)
    assert list(remaining) == [new.pk]


# ---------- A body that requires it ----------


def test_demo_bodies_do_not_require_a_code(client_for, monitor):
    assert client_for(monitor).get(reverse("home")).status_code == 200


def test_required_without_a_device_sends_to_setup(client_for, monitor, requiring_body):
    client = client_for(monitor)
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('otp_verify')}?next=%2Faccount%2F"
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('otp_setup')}?next=%2Faccount%2F"
    assert client.get(response["Location"]).status_code == 200


def test_required_flow_from_setup_to_the_page(client_for, monitor, requiring_body):
    client = client_for(monitor)
    client.get(f"{reverse('otp_setup')}?next=/account/")
    pending = AuthenticatorDevice.objects.get(user=monitor)
    response = client.post(reverse("otp_setup"), {"token": code_for(pending), "next": "/account/"})
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200


def test_required_with_a_device_asks_for_the_code(client_for, monitor, device, requiring_body):
    client = client_for(monitor)
    response = client.get(reverse("home"))
    assert response["Location"].startswith(reverse("otp_verify"))
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()

    response = client.post(reverse("otp_verify"), {"token": wrong_code_for(device), "next": "/"})
    assert response.status_code == 200
    assert client.get(reverse("home")).status_code == 302
    assert AuditEntry.objects.get(action="core.otp.fail").actor == monitor

    response = client.post(reverse("otp_verify"), {"token": code_for(device), "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get(reverse("home")).status_code == 200


def test_verify_ignores_an_unsafe_next(client_for, monitor, device, requiring_body):
    client = client_for(monitor)
    response = client.post(
        reverse("otp_verify"), {"token": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_sign_out_works_before_the_code(client_for, monitor, device, requiring_body):
    client = client_for(monitor)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_session_without_the_code_cannot_use_the_api(client_for, monitor, device, requiring_body):
    client = client_for(monitor)
    response = client.get("/api/v1/places/")
    assert response.status_code == 403
    assert "Two-factor" in response.json()["detail"]
    client.post(reverse("otp_verify"), {"token": code_for(device), "next": "/"})
    assert client.get("/api/v1/places/").status_code == 200


def test_a_person_with_an_app_is_asked_for_the_code_in_every_body(client, monitor, device):
    """The body does not require two-factor sign-in, but this monitor turned it on."""
    from tests.factories import PASSWORD

    client.post(reverse("login"), {"username": monitor.username, "password": PASSWORD})
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("otp_verify"))
    client.post(reverse("otp_verify"), {"token": code_for(device), "next": "/"})
    assert client.get(reverse("home")).status_code == 200
