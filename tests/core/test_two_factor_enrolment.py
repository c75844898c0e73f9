"""Who may set up an authenticator app, and how its seed is kept.

A body that requires two-factor sign-in gives a member without an app a grace period (its
`totp_grace_days`) to set one up with their password alone; after it, a password alone cannot
set one up (it may be someone else's password), a head has to reset the member's two-factor
sign-in first. Set-ups and resets are audited and mailed to the member.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp

from tests.factories import MembershipFactory
from vigil.core import crypto, services
from vigil.core.models import AuditEntry, AuthenticatorDevice, Body, Membership, Role

pytestmark = pytest.mark.django_db


def code_for(device: AuthenticatorDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def requiring_body(body):
    body.require_totp = True
    body.totp_required_since = timezone.now()
    body.save(update_fields=["require_totp", "totp_required_since"])
    return body


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def end_grace(body: Body, *memberships: Membership, days: int = 8) -> None:
    """Move the requirement and the memberships `days` into the past."""
    Body.objects.filter(pk=body.pk).update(totp_required_since=days_ago(days))
    Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(created_at=days_ago(days))


def monitor_membership(monitor, body) -> Membership:
    return Membership.objects.get(user=monitor, body=body)


def verified_client(client_for, user):
    """A session of `user` that typed the code of their (new) app: what a head of a body that
    requires two-factor sign-in works in."""
    device = AuthenticatorDevice.objects.create(user=user, name="phone", confirmed=True)
    client = client_for(user)
    response = client.post(reverse("otp_verify"), {"token": code_for(device)})
    assert response.status_code == 302
    return client


# ---------- The seed is encrypted ----------


def test_the_database_holds_no_seed_in_plain_text(client_for, monitor):
    client = client_for(monitor)
    client.get(reverse("otp_setup"))
    device = AuthenticatorDevice.objects.get(user=monitor)
    seed_hex = device.key
    assert len(seed_hex) == 40
    client.post(reverse("otp_setup"), {"token": code_for(device)})
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_authenticatordevice")
        rows = cursor.fetchall()
        cursor.execute("SELECT key FROM core_authenticatordevice")
        raw_key = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM otp_totp_totpdevice")
        legacy = cursor.fetchone()[0]
    assert len(rows) == 1
    assert all(seed_hex not in str(value).lower() for value in rows[0])
    assert raw_key.startswith(crypto.TOKEN_PREFIX)
    assert crypto.decrypt_text(raw_key) == seed_hex
    assert legacy == 0
    # The app made from the seed keeps working: the next sign-in accepts its code.
    device.refresh_from_db()
    assert device.confirmed
    assert device.key == seed_hex


def test_the_seed_is_one_of_the_encrypted_fields():
    fields = {(model._meta.label, name) for model, name in crypto.encrypted_fields()}
    assert ("core.AuthenticatorDevice", "key") in fields


def test_a_code_is_accepted_once(client_for, monitor):
    device = AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    code = code_for(device)
    assert services.otp_verify(user=monitor, token=code) == device
    assert services.otp_verify(user=monitor, token=code) is None
    assert AuditEntry.objects.filter(action="core.otp.fail").count() == 1


# ---------- The grace period ----------


def test_turning_the_requirement_on_starts_the_grace_period(head_membership, body):
    assert body.totp_required_since is None
    services.body_update_settings(membership=head_membership, require_totp=True)
    body.refresh_from_db()
    assert timezone.now() - body.totp_required_since < timedelta(minutes=1)
    services.body_update_settings(membership=head_membership, require_totp=False)
    body.refresh_from_db()
    assert body.totp_required_since is None


def test_within_the_grace_period_a_member_sets_up_their_app(client_for, monitor, requiring_body):
    end_grace(requiring_body, monitor_membership(monitor, requiring_body), days=6)
    client = client_for(monitor)
    assert client.get(reverse("otp_setup")).status_code == 200
    pending = AuthenticatorDevice.objects.get(user=monitor)
    response = client.post(reverse("otp_setup"), {"token": code_for(pending)})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_after_the_grace_period_a_password_alone_cannot_set_up_an_app(
    client_for, monitor, requiring_body
):
    """The review's case: a password-only session enrolled its own app for a member who never
    set one up, and then had full access."""
    end_grace(requiring_body, monitor_membership(monitor, requiring_body))
    client = client_for(monitor)

    home = client.get(reverse("home"))
    assert home["Location"].startswith(reverse("otp_verify"))
    verify = client.get(home["Location"])
    assert verify.status_code == 403
    assert "Ask a head" in verify.content.decode()

    setup = client.get(reverse("otp_setup"))
    assert setup.status_code == 403
    html = setup.content.decode()
    assert "Ask a head of National Preventive Mechanism to allow it." in html
    assert "<svg" not in html
    assert not AuthenticatorDevice.objects.filter(user=monitor).exists()
    assert client.post(reverse("otp_setup"), {"token": "123456"}).status_code == 403
    assert client.get(reverse("home")).status_code == 302
    assert client.get(LIST_API).status_code == 403


LIST_API = "/api/v1/places/"


def test_a_code_typed_after_the_period_does_not_confirm_a_pending_app(
    client_for, monitor, requiring_body
):
    client = client_for(monitor)
    client.get(reverse("otp_setup"))
    pending = AuthenticatorDevice.objects.get(user=monitor)
    end_grace(requiring_body, monitor_membership(monitor, requiring_body))
    response = client.post(reverse("otp_setup"), {"token": code_for(pending)})
    assert response.status_code == 403
    pending.refresh_from_db()
    assert not pending.confirmed
    assert not AuditEntry.objects.filter(action="core.otp.enable").exists()


def test_the_period_counts_from_when_the_member_joined(client_for, requiring_body):
    Body.objects.filter(pk=requiring_body.pk).update(totp_required_since=days_ago(30))
    newcomer = MembershipFactory(body=requiring_body, role=Role.MONITOR)
    assert client_for(newcomer.user).get(reverse("otp_setup")).status_code == 200


def test_the_head_sets_the_length_of_the_period(client_for, head, monitor, requiring_body):
    response = verified_client(client_for, head).post(
        reverse("body_settings"), {"require_totp": "on", "totp_grace_days": "2"}
    )
    assert response.status_code == 302
    requiring_body.refresh_from_db()
    assert requiring_body.totp_grace_days == 2
    entry = AuditEntry.objects.get(action="core.body.update_settings")
    assert entry.changes == {"totp_grace_days": [7, 2]}
    end_grace(requiring_body, monitor_membership(monitor, requiring_body), days=3)
    assert client_for(monitor).get(reverse("otp_setup")).status_code == 403


def test_the_settings_page_refuses_an_impossible_period(client_for, head, requiring_body):
    client = verified_client(client_for, head)
    page = client.get(reverse("body_settings"))
    assert 'name="totp_grace_days"' in page.content.decode()
    response = client.post(
        reverse("body_settings"), {"require_totp": "on", "totp_grace_days": "91"}
    )
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    requiring_body.refresh_from_db()
    assert requiring_body.totp_grace_days == 7


def test_the_service_refuses_an_impossible_period(head_membership, body):
    with pytest.raises(ValidationError) as caught:
        services.body_update_settings(
            membership=head_membership, require_totp=True, totp_grace_days=-1
        )
    assert "totp_grace_days" in caught.value.message_dict


def test_every_requiring_body_must_still_be_in_its_period(client_for, monitor, requiring_body):
    """An app set up through one body's open period would also open the other's data."""
    other = Body.objects.create(name="Second Mechanism", slug="second", require_totp=True)
    other_membership = MembershipFactory(user=monitor, body=other, role=Role.MONITOR)
    end_grace(other, other_membership)
    assert client_for(monitor).get(reverse("otp_setup")).status_code == 403
    assert [m.body for m in services.otp_setup_blocked_by(monitor)] == [other]


def test_a_body_without_the_requirement_leaves_set_up_open(client_for, monitor, body):
    Membership.objects.filter(user=monitor).update(created_at=days_ago(400))
    assert client_for(monitor).get(reverse("otp_setup")).status_code == 200


def test_turning_the_app_off_is_refused_while_a_body_requires_it(
    client_for, monitor, requiring_body
):
    device = AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    client = client_for(monitor)
    client.post(reverse("otp_verify"), {"token": code_for(device)})
    status = client.get(reverse("otp_setup")).content.decode()
    assert 'value="remove"' not in status
    response = client.post(reverse("otp_setup"), {"action": "remove"}, follow=True)
    assert "you can set up a new app, but not turn it off" in response.content.decode()
    assert AuthenticatorDevice.objects.filter(pk=device.pk).exists()
    with pytest.raises(ValidationError):
        services.otp_device_remove(user=monitor)


# ---------- A head's reset ----------


def test_a_head_resets_a_members_two_factor_from_the_users_page(
    client_for, head, monitor, requiring_body, mailoutbox, django_capture_on_commit_callbacks
):
    membership = monitor_membership(monitor, requiring_body)
    device = AuthenticatorDevice.objects.create(user=monitor, name="lost phone", confirmed=True)
    head_client = verified_client(client_for, head)
    page = head_client.get(reverse("users")).content.decode()
    url = reverse("user_reset_two_factor", args=[membership.pk])
    assert f'action="{url}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = head_client.post(url)
    assert response.status_code == 302
    assert not AuthenticatorDevice.objects.filter(pk=device.pk).exists()
    entry = AuditEntry.objects.get(action="core.otp.reset")
    assert entry.actor == head
    assert entry.body == requiring_body
    assert entry.object_id == str(membership.pk)
    assert entry.changes == {"apps_removed": 1}
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [monitor.email]
    assert "reset" in mail.subject
    assert "monitor" in mail.body


def test_after_a_reset_the_member_may_set_up_an_app_past_the_period(
    client_for,
    head_membership,
    monitor,
    requiring_body,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    membership = monitor_membership(monitor, requiring_body)
    end_grace(requiring_body, membership)
    client = client_for(monitor)
    assert client.get(reverse("otp_setup")).status_code == 403

    services.otp_reset(membership=head_membership, target=membership)
    assert client.get(reverse("otp_setup")).status_code == 200
    pending = AuthenticatorDevice.objects.get(user=monitor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("otp_setup"), {"token": code_for(pending)})
    assert response.status_code == 302
    assert AuditEntry.objects.get(action="core.otp.enable").actor == monitor
    enabled = [mail for mail in mailoutbox if "set up" in mail.subject]
    assert len(enabled) == 1
    assert enabled[0].to == [monitor.email]
    # Neutral: nothing that would help someone reading the mail.
    assert pending.key not in enabled[0].body
    assert "tell a head" in enabled[0].body


def test_the_reset_gives_at_least_a_day_even_with_no_grace_period(
    head_membership, monitor, requiring_body
):
    Body.objects.filter(pk=requiring_body.pk).update(totp_grace_days=0)
    membership = monitor_membership(monitor, requiring_body)
    membership.refresh_from_db()
    assert services.otp_setup_blocked_by(monitor) != []
    services.otp_reset(membership=head_membership, target=membership)
    assert services.otp_setup_blocked_by(monitor) == []
    Membership.objects.filter(pk=membership.pk).update(totp_setup_allowed_at=days_ago(1.1))
    assert services.otp_setup_blocked_by(monitor) != []


def test_the_users_page_offers_set_up_to_a_member_without_an_app(
    client_for, head, monitor, requiring_body
):
    html = verified_client(client_for, head).get(reverse("users")).content.decode()
    assert "Allow two-factor set-up" in html


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MONITOR, Role.AUDITOR])
def test_only_a_head_resets_two_factor(client_for, persona, monitor, requiring_body, role):
    target = monitor_membership(monitor, requiring_body)
    device = AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    actor = persona(role) if role != Role.MONITOR else persona(Role.VISIT_LEADER)
    client = verified_client(client_for, actor.user)
    response = client.post(reverse("user_reset_two_factor", args=[target.pk]))
    assert response.status_code == 403
    assert AuthenticatorDevice.objects.filter(pk=device.pk).exists()
    with pytest.raises(PermissionDenied):
        services.otp_reset(membership=actor, target=target)


def test_a_head_of_another_body_gets_404(client_for, outsider, monitor, requiring_body):
    target = monitor_membership(monitor, requiring_body)
    device = AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    response = client_for(outsider).post(reverse("user_reset_two_factor", args=[target.pk]))
    assert response.status_code == 404
    assert AuthenticatorDevice.objects.filter(pk=device.pk).exists()


def test_a_head_cannot_reset_their_own(head_membership, requiring_body):
    head = head_membership.user
    device = AuthenticatorDevice.objects.create(user=head, name="phone", confirmed=True)
    with pytest.raises(ValidationError):
        services.otp_reset(membership=head_membership, target=head_membership)
    assert AuthenticatorDevice.objects.filter(pk=device.pk).exists()


def test_the_reset_is_post_only(client_for, head, monitor, requiring_body):
    target = monitor_membership(monitor, requiring_body)
    url = reverse("user_reset_two_factor", args=[target.pk])
    assert verified_client(client_for, head).get(url).status_code == 405
