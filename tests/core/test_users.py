"""Members and roles of a body, and its settings: who may manage them, and the services' rules."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tests.factories import MembershipFactory, UserFactory
from vigil.core import permissions, services
from vigil.core.models import AuditEntry, AuthenticatorDevice, Body, Membership, Role

pytestmark = pytest.mark.django_db

User = get_user_model()
STRONG_PASSWORD = "amber-window-seven-hills-2"

ROLE_FIXTURES = [
    "head",
    "visit_leader",
    "monitor",
    "analyst",
    "admin_user",
    "auditor",
    "focal_point",
]
MANAGERS = {"head", "admin_user"}


def membership_of(user, body: Body) -> Membership:
    return Membership.objects.get(user=user, body=body)


# ---------- Permission matrix ----------


@pytest.mark.parametrize("role_fixture", ROLE_FIXTURES)
@pytest.mark.parametrize("url_name", ["users", "user_add", "body_settings"])
def test_users_and_settings_pages_by_role(request, client_for, role_fixture, url_name):
    user = request.getfixturevalue(role_fixture)
    response = client_for(user).get(reverse(url_name))
    assert response.status_code == (200 if role_fixture in MANAGERS else 403)


@pytest.mark.parametrize("role_fixture", ROLE_FIXTURES)
def test_membership_pages_by_role(request, client_for, body, role_fixture):
    target = MembershipFactory(body=body, role=Role.MONITOR)
    user = request.getfixturevalue(role_fixture)
    client = client_for(user)
    expected = 200 if role_fixture in MANAGERS else 403
    assert client.get(reverse("user_edit", args=[target.pk])).status_code == expected
    response = client.post(reverse("user_deactivate", args=[target.pk]))
    assert response.status_code == (302 if role_fixture in MANAGERS else 403)
    target.refresh_from_db()
    assert target.is_active is (role_fixture not in MANAGERS)


def test_user_without_a_body_gets_404(client_for):
    """With no body there is nothing to manage: the page does not exist for them."""
    loner = UserFactory(username="loner")
    assert client_for(loner).get(reverse("users")).status_code == 404


@pytest.mark.parametrize(
    ("url_name", "method"),
    [
        ("user_edit", "get"),
        ("user_edit", "post"),
        ("user_deactivate", "post"),
        ("user_reactivate", "post"),
    ],
)
def test_outsider_cannot_touch_a_membership_of_body(
    client_for, outsider, monitor, body, url_name, method
):
    target = membership_of(monitor, body)
    client = client_for(outsider)
    response = getattr(client, method)(reverse(url_name, args=[target.pk]), {"role": Role.HEAD})
    assert response.status_code == 404
    target.refresh_from_db()
    assert target.role == Role.MONITOR
    assert target.is_active


def test_permissions_table():
    head = Membership(role=Role.HEAD)
    admin = Membership(role=Role.ADMIN)
    auditor = Membership(role=Role.AUDITOR)
    assert permissions.allowed_actions(head) == {
        "manage_users",
        "manage_settings",
        "view_audit",
        "grant_head",
        "manage_grants",
        "reset_two_factor",
    }
    assert permissions.allowed_actions(admin) == {"manage_users", "manage_settings"}
    assert permissions.allowed_actions(auditor) == {"view_audit"}
    assert not permissions.can(None, "manage_users")
    assert not permissions.can(Membership(role=Role.HEAD, is_active=False), "manage_users")


# ---------- The list ----------


def test_users_list_shows_members_with_role_and_last_login(client_for, head, monitor, body):
    response = client_for(head).get(reverse("users"))
    html = response.content.decode()
    assert "monitor@example.org" in html
    assert "Monitor" in html
    assert "outsider" not in html


def test_users_list_query_count_does_not_grow(client_for, head, body, django_assert_num_queries):
    client = client_for(head)
    client.get(reverse("users"))
    for _ in range(3):
        MembershipFactory(body=body)
    # + 1: the unread notifications in the header; + 1: the body's invitations. The session is
    # no longer written on every request.
    with django_assert_num_queries(6) as captured:
        client.get(reverse("users"))
    small = len(captured)
    for _ in range(20):
        MembershipFactory(body=body)
    with django_assert_num_queries(small):
        client.get(reverse("users"))


# ---------- membership_add ----------


def test_add_a_new_account(client_for, admin_user, body):
    response = client_for(admin_user).post(
        reverse("user_add"),
        {
            "username": "new-monitor",
            "role": Role.MONITOR,
            "first_name": "Amina",
            "last_name": "Diallo",
            "email": "amina@example.org",
            "password": STRONG_PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="new-monitor")
    assert user.check_password(STRONG_PASSWORD)
    membership = membership_of(user, body)
    assert membership.role == Role.MONITOR
    entry = AuditEntry.objects.get(action="core.membership.add")
    assert entry.actor == admin_user
    assert entry.body == body
    assert entry.object_id == str(membership.pk)
    assert entry.changes["role"] == [None, Role.MONITOR]
    assert entry.changes["new_account"] == [None, True]
    assert STRONG_PASSWORD not in str(entry.changes)


def test_add_refuses_a_weak_initial_password(client_for, admin_user):
    response = client_for(admin_user).post(
        reverse("user_add"),
        {"username": "weak", "role": Role.MONITOR, "password": "weak-user1"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="weak").exists()


def test_add_a_new_account_needs_a_password(admin_user, body):
    with pytest.raises(ValidationError) as error:
        services.membership_add(
            membership=membership_of(admin_user, body), username="x", role=Role.MONITOR
        )
    assert "password" in error.value.message_dict


def test_one_person_in_two_bodies_with_different_roles(client_for, outsider, monitor, other_body):
    """An existing account is invited; once the person accepts they have both roles."""
    response = client_for(outsider).post(
        reverse("user_add"), {"username": "monitor", "role": Role.ANALYST}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(user=monitor, body=other_body).exists()
    invitation = monitor.invitations.get()
    services.invitation_accept(user=monitor, invitation_id=invitation.pk)
    assert membership_of(monitor, other_body).role == Role.ANALYST
    assert Membership.objects.get(user=monitor, body__slug="npm").role == Role.MONITOR
    entry = AuditEntry.objects.get(action="core.membership.add")
    assert entry.body == other_body
    assert entry.actor == monitor
    assert entry.changes["new_account"] == [None, False]


def test_adding_an_existing_account_cannot_set_its_password(outsider, monitor, other_body):
    with pytest.raises(ValidationError) as error:
        services.membership_add(
            membership=membership_of(outsider, other_body),
            username="monitor",
            role=Role.ANALYST,
            password=STRONG_PASSWORD,
        )
    assert "password" in error.value.message_dict
    monitor.refresh_from_db()
    assert not monitor.check_password(STRONG_PASSWORD)


def test_add_refuses_an_existing_member(head, monitor, body):
    with pytest.raises(ValidationError):
        services.membership_add(
            membership=membership_of(head, body), username="monitor", role=Role.ANALYST
        )


def test_only_a_head_can_make_a_head(client_for, admin_user, head, body):
    with pytest.raises(PermissionDenied):
        services.membership_add(
            membership=membership_of(admin_user, body),
            username="boss",
            role=Role.HEAD,
            password=STRONG_PASSWORD,
        )
    page = client_for(admin_user).get(reverse("user_add")).content.decode()
    assert 'value="head"' not in page
    services.membership_add(
        membership=membership_of(head, body),
        username="boss",
        role=Role.HEAD,
        password=STRONG_PASSWORD,
    )


def test_a_non_manager_cannot_add_through_the_service(monitor, body):
    with pytest.raises(PermissionDenied):
        services.membership_add(
            membership=membership_of(monitor, body), username="x", role=Role.MONITOR
        )


def test_a_manager_of_another_body_cannot_change_its_members(outsider, monitor, other_body, body):
    target = membership_of(monitor, body)
    outsider_membership = membership_of(outsider, other_body)
    for service in (services.membership_deactivate, services.membership_reactivate):
        with pytest.raises(PermissionDenied):
            service(membership=outsider_membership, target=target)
    with pytest.raises(PermissionDenied):
        services.membership_set_role(
            membership=outsider_membership, target=target, role=Role.ANALYST
        )
    target.refresh_from_db()
    assert target.is_active and target.role == Role.MONITOR


# ---------- membership_set_role ----------


def test_change_role_is_audited_with_changes(client_for, admin_user, monitor, body):
    target = membership_of(monitor, body)
    response = client_for(admin_user).post(
        reverse("user_edit", args=[target.pk]), {"role": Role.ANALYST}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == Role.ANALYST
    entry = AuditEntry.objects.get(action="core.membership.change_role")
    assert entry.actor == admin_user
    assert entry.changes == {"role": [Role.MONITOR, Role.ANALYST]}


def test_cannot_change_own_role(head, body):
    with pytest.raises(ValidationError):
        services.membership_set_role(
            membership=membership_of(head, body),
            target=membership_of(head, body),
            role=Role.MONITOR,
        )


def test_admin_cannot_demote_a_head(admin_user, head, body):
    with pytest.raises(PermissionDenied):
        services.membership_set_role(
            membership=membership_of(admin_user, body),
            target=membership_of(head, body),
            role=Role.MONITOR,
        )


def test_head_role_changes_need_a_head(head, body):
    other_head = MembershipFactory(body=body, role=Role.HEAD)
    services.membership_set_role(
        membership=membership_of(head, body), target=other_head, role=Role.ANALYST
    )
    other_head.refresh_from_db()
    assert other_head.role == Role.ANALYST


# ---------- membership_deactivate / reactivate ----------


def test_deactivate_and_reactivate_are_audited(client_for, head, monitor, body):
    target = membership_of(monitor, body)
    client = client_for(head)
    assert client.post(reverse("user_deactivate", args=[target.pk])).status_code == 302
    target.refresh_from_db()
    assert not target.is_active
    entry = AuditEntry.objects.get(action="core.membership.deactivate")
    assert (entry.actor, entry.changes) == (head, {"is_active": [True, False]})
    assert client.post(reverse("user_reactivate", args=[target.pk])).status_code == 302
    target.refresh_from_db()
    assert target.is_active
    entry = AuditEntry.objects.get(action="core.membership.reactivate")
    assert (entry.actor, entry.changes) == (head, {"is_active": [False, True]})


def test_deactivated_member_loses_the_body(client_for, head, monitor, body):
    services.membership_deactivate(
        membership=membership_of(head, body), target=membership_of(monitor, body)
    )
    response = client_for(monitor).get(reverse("home"))
    assert "You are not a member of any body yet" in response.content.decode()


def test_cannot_deactivate_yourself(client_for, head, body):
    MembershipFactory(body=body, role=Role.HEAD)
    own = membership_of(head, body)
    response = client_for(head).post(reverse("user_deactivate", args=[own.pk]), follow=True)
    assert "You cannot deactivate your own membership." in response.content.decode()
    own.refresh_from_db()
    assert own.is_active


def test_the_body_always_keeps_a_manager(body):
    only_head = MembershipFactory(body=body, role=Role.HEAD)
    admin = MembershipFactory(body=body, role=Role.ADMIN)
    # An administrator may not touch a head at all...
    with pytest.raises(PermissionDenied):
        services.membership_deactivate(membership=membership_of(admin.user, body), target=only_head)
    # ...the head may remove the administrator, and is then the last manager, whom nobody can
    # deactivate or demote: not themselves, and no one else has the right.
    services.membership_deactivate(membership=membership_of(only_head.user, body), target=admin)
    with pytest.raises(ValidationError):
        services.membership_deactivate(
            membership=membership_of(only_head.user, body), target=only_head
        )
    with pytest.raises(ValidationError):
        services.membership_set_role(
            membership=membership_of(only_head.user, body), target=only_head, role=Role.MONITOR
        )
    with pytest.raises(PermissionDenied):
        services.membership_deactivate(membership=membership_of(admin.user, body), target=only_head)
    only_head.refresh_from_db()
    assert only_head.is_active and only_head.role == Role.HEAD


def test_last_manager_check_counts_only_active_managers(body):
    """Defence in depth under the rules above: the service itself refuses to leave a body
    without an active head or administrator."""
    head = MembershipFactory(body=body, role=Role.HEAD)
    MembershipFactory(body=body, role=Role.ADMIN, is_active=False)
    assert not services._other_managers_exist(head)
    MembershipFactory(body=body, role=Role.ADMIN)
    assert services._other_managers_exist(head)


# ---------- Body settings ----------


def test_body_settings_toggle_is_audited(client_for, admin_user, body):
    response = client_for(admin_user).post(reverse("body_settings"), {"require_totp": "on"})
    assert response.status_code == 302
    body.refresh_from_db()
    assert body.require_totp
    entry = AuditEntry.objects.get(action="core.body.update_settings")
    assert entry.actor == admin_user
    assert entry.body == body
    assert entry.changes == {"require_totp": [False, True]}


def test_body_settings_without_a_change_writes_no_entry(admin_user, body):
    services.body_update_settings(membership=membership_of(admin_user, body), require_totp=False)
    assert not AuditEntry.objects.filter(action="core.body.update_settings").exists()


def test_body_settings_service_checks_the_role(monitor, body):
    with pytest.raises(PermissionDenied):
        services.body_update_settings(membership=membership_of(monitor, body), require_totp=True)
    body.refresh_from_db()
    assert not body.require_totp


def test_body_settings_counts_members_without_two_factor(client_for, head, monitor, body):
    AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    response = client_for(head).get(reverse("body_settings"))
    assert response.context["members_without_totp"] == 1
