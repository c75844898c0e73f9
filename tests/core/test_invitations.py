"""Adding a person who already has an account is an invitation they accept or decline: until
they accept, the inviting body sees nothing of them (name, email, sign-ins) but the username it
typed (issue 19, finding 12)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from vigil.core import services
from vigil.core.access import can_see, visible
from vigil.core.audit import visible_audit_entries
from vigil.core.models import (
    AuditEntry,
    Invitation,
    InvitationStatus,
    Membership,
    Notification,
    Role,
)

pytestmark = pytest.mark.django_db

PASSWORD = "amber-window-seven-hills-2"


@pytest.fixture
def invitee(monitor):
    monitor.first_name, monitor.last_name = "Amina", "Diallo"
    monitor.email = "amina.diallo@example.org"
    monitor.set_password(PASSWORD)
    monitor.save()
    return monitor


def _invite(outsider_membership, username="monitor", role=Role.ANALYST):
    return services.membership_add(membership=outsider_membership, username=username, role=role)


def _what_the_inviting_body_shows(client: Client) -> str:
    pages = [reverse("users"), reverse("audit"), reverse("home")]
    text = "".join(client.get(url).content.decode() for url in pages)
    return text + client.get(reverse("audit_export")).getvalue().decode()


def _sign_in(username: str) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.77")
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_adding_an_existing_account_invites_and_adds_nothing(
    invitee, outsider_membership, other_body, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = _invite(outsider_membership)
    assert isinstance(invitation, Invitation)
    assert invitation.status == InvitationStatus.PENDING
    assert invitation.body == other_body
    assert not Membership.objects.filter(user=invitee, body=other_body).exists()
    entry = AuditEntry.objects.get(action="core.invitation.create")
    assert entry.body == other_body
    assert entry.changes == {"username": [None, "monitor"], "role": [None, Role.ANALYST]}
    assert "amina" not in str(entry.changes).lower()
    # The person hears of it in the body they work in, and by email.
    notice = Notification.objects.get(kind="core.invitation.received")
    assert notice.recipient.user == invitee
    assert notice.url == reverse("invitations")
    assert other_body.name not in notice.text
    assert [message.to for message in mail.outbox] == [["amina.diallo@example.org"]]
    assert reverse("invitations") in mail.outbox[0].body
    # The notice's own entry is in the inviting body's trail, not in the person's body's.
    sent = AuditEntry.objects.get(action="core.notification.send")
    assert sent.body == other_body


def test_the_inviting_body_sees_nothing_of_the_person_before_acceptance(
    client_for, invitee, outsider, outsider_membership, other_body
):
    _invite(outsider_membership)
    # The person signs in (from an address of theirs) and changes their details meanwhile.
    client = _sign_in("monitor")
    client.post(
        reverse("account"),
        {"first_name": "Amina", "last_name": "Diallo", "email": "amina.diallo@example.org"},
    )
    shown = _what_the_inviting_body_shows(client_for(outsider))
    for secret in ("Amina", "Diallo", "amina.diallo@example.org", "203.0.113.77"):
        assert secret not in shown
    # The username the inviting manager typed is all it has.
    assert "monitor" in shown
    assert not visible(outsider_membership, type(invitee)).filter(pk=invitee.pk).exists()
    assert not visible_audit_entries(outsider_membership).filter(
        action__in=["core.user.login", "core.user.update"]
    )
    assert not AuditEntry.objects.filter(body=other_body, action="core.user.login").exists()


def test_the_person_sees_the_invitation_after_sign_in_and_accepts(
    invitee, outsider, outsider_membership, other_body, client_for
):
    invitation = _invite(outsider_membership)
    client = _sign_in("monitor")
    home = client.get(reverse("home")).content.decode()
    assert reverse("invitations") in home
    page = client.get(reverse("invitations")).content.decode()
    assert other_body.name in page
    assert "Analyst" in page

    response = client.post(reverse("invitation_accept", args=[invitation.pk]))
    assert response.status_code == 302
    added = Membership.objects.get(user=invitee, body=other_body)
    assert added.role == Role.ANALYST and added.is_active
    assert client.session["vigil_body_id"] == other_body.pk
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.answered_at is not None
    actions = set(
        AuditEntry.objects.filter(body=other_body, actor=invitee).values_list("action", flat=True)
    )
    assert {"core.invitation.accept", "core.membership.add"} <= actions
    # Now a member: the body's managers see the person like any member.
    assert "amina.diallo@example.org" in client_for(outsider).get(reverse("users")).content.decode()
    assert not services.pending_invitations(invitee).exists()


def test_declining_leaves_the_inviting_body_with_nothing(
    invitee, outsider, outsider_membership, other_body, client_for
):
    invitation = _invite(outsider_membership)
    client = _sign_in("monitor")
    response = client.post(reverse("invitation_decline", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    assert not Membership.objects.filter(user=invitee, body=other_body).exists()
    assert AuditEntry.objects.get(action="core.invitation.decline").body == other_body
    page = client_for(outsider).get(reverse("users")).content.decode()
    assert "Declined" in page
    assert "amina.diallo@example.org" not in page
    # A declined invitation cannot be accepted afterwards.
    assert client.post(reverse("invitation_accept", args=[invitation.pk])).status_code == 404
    assert not Membership.objects.filter(user=invitee, body=other_body).exists()


def test_only_the_invited_person_can_answer(
    invitee, head, outsider, outsider_membership, client_for
):
    invitation = _invite(outsider_membership)
    for someone in (head, outsider):
        client = client_for(someone)
        for name in ("invitation_accept", "invitation_decline"):
            assert client.post(reverse(name, args=[invitation.pk])).status_code == 404
        page = client.get(reverse("invitations")).content.decode()
        assert reverse("invitation_accept", args=[invitation.pk]) not in page
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert Membership.objects.filter(body=invitation.body).count() == 1
    with pytest.raises(Http404):
        services.invitation_accept(user=head, invitation_id=invitation.pk)


def test_accepting_needs_a_post(invitee, outsider_membership):
    invitation = _invite(outsider_membership)
    client = _sign_in("monitor")
    assert client.get(reverse("invitation_accept", args=[invitation.pk])).status_code == 405
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


def test_a_manager_withdraws_a_pending_invitation(
    invitee, outsider, outsider_membership, client_for
):
    invitation = _invite(outsider_membership)
    response = client_for(outsider).post(reverse("invitation_withdraw", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.WITHDRAWN
    assert AuditEntry.objects.filter(action="core.invitation.withdraw").count() == 1
    client = _sign_in("monitor")
    assert client.post(reverse("invitation_accept", args=[invitation.pk])).status_code == 404
    assert not Membership.objects.filter(user=invitee, body=invitation.body).exists()
    # The notice disappears with the invitation it was about.
    assert reverse("invitations") not in client.get(reverse("home")).content.decode()


def test_another_body_cannot_withdraw_or_see_an_invitation(
    invitee, head, head_membership, outsider_membership, client_for
):
    invitation = _invite(outsider_membership)
    response = client_for(head).post(reverse("invitation_withdraw", args=[invitation.pk]))
    assert response.status_code == 404
    assert "monitor" not in _rows_of_invitations(client_for(head))
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert not can_see(head_membership, invitation)
    with pytest.raises(PermissionDenied):
        services.invitation_withdraw(membership=head_membership, invitation=invitation)


def _rows_of_invitations(client: Client) -> str:
    page = client.get(reverse("users")).content.decode()
    return page.split('id="invitations-title"', 1)[1] if 'id="invitations-title"' in page else ""


def test_a_member_who_is_not_a_manager_cannot_invite(personas, invitee):
    leader_elsewhere = personas("outsider")
    leader_elsewhere.role = Role.MONITOR
    leader_elsewhere.save()
    with pytest.raises(PermissionDenied):
        services.membership_add(membership=leader_elsewhere, username="monitor", role=Role.ANALYST)
    assert not Invitation.objects.exists()


def test_one_pending_invitation_per_person_and_body(invitee, outsider_membership):
    _invite(outsider_membership)
    with pytest.raises(ValidationError) as error:
        _invite(outsider_membership, role=Role.MONITOR)
    assert "username" in error.value.message_dict
    assert Invitation.objects.count() == 1


def test_an_invitation_cannot_set_the_password(invitee, outsider_membership):
    with pytest.raises(ValidationError):
        services.membership_add(
            membership=outsider_membership,
            username="monitor",
            role=Role.ANALYST,
            password="another-long-passphrase-9",
        )
    invitee.refresh_from_db()
    assert invitee.check_password(PASSWORD)
    assert not Invitation.objects.exists()


def test_a_person_with_no_body_is_invited_by_email(outsider_membership, other_body):
    loner = UserFactory(username="loner", email="loner@example.org")
    loner.set_password(PASSWORD)
    loner.save()
    invitation = services.membership_add(
        membership=outsider_membership, username="LONER", role=Role.MONITOR
    )
    assert invitation.user == loner
    client = _sign_in("loner")
    assert reverse("invitations") in client.get(reverse("home")).content.decode()
    client.post(reverse("invitation_accept", args=[invitation.pk]))
    assert Membership.objects.get(user=loner).body == other_body


def test_the_user_add_page_says_the_person_is_invited(invitee, outsider, client_for):
    client = client_for(outsider)
    response = client.post(
        reverse("user_add"), {"username": "monitor", "role": Role.ANALYST}, follow=True
    )
    page = response.content.decode()
    assert "invited" in page
    assert "amina.diallo@example.org" not in page
