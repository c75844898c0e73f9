"""Need-to-know: a case and a person at risk exist only for their holders, the body's heads and
members a head granted them to. Everyone else gets 404 everywhere: pages, lists, counts, the
place dossier, the preparation pack, the audit trail, notifications and the API."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory, UserFactory
from tests.invisibility import assert_invisible
from vigil.core.access import can_see, visible
from vigil.core.grants import grant_create
from vigil.core.models import Role
from vigil.protection import services
from vigil.protection.models import Case, FollowUp, ProtectedPerson, Referral

pytestmark = pytest.mark.django_db

# Everyone in the national body but the holder (the monitor) and the head.
NON_HOLDERS = [
    Role.VISIT_LEADER,
    Role.ANALYST,
    Role.ADMIN,
    Role.AUDITOR,
    Role.AUTHORITY_FOCAL_POINT,
]


@pytest.mark.parametrize("role", NON_HOLDERS)
def test_a_case_does_not_exist_for_non_holders(persona, case, holder, role):
    services.referral_create(membership=holder, case=case, data={"target": "prosecutor"})
    assert assert_invisible(persona(role), case) > 10


@pytest.mark.parametrize("role", NON_HOLDERS)
def test_a_person_at_risk_does_not_exist_for_non_holders(persona, person, role):
    assert assert_invisible(persona(role), person) > 10


@pytest.mark.parametrize("username", ["regional", "outsider"])
def test_other_bodies_never_see_cases_or_persons(personas, case, person, username):
    assert assert_invisible(personas(username), case) > 10
    assert assert_invisible(personas(username), person) > 10


def test_a_head_of_a_member_body_does_not_see_the_national_cases(member_body, case):
    # Nor does a coordinating body see its member bodies' cases: they are never shared.
    regional_head = MembershipFactory(
        user=UserFactory(username="regional-head"), body=member_body, role=Role.HEAD
    )
    assert not can_see(regional_head, case)


def test_holders_and_heads_see_everything_linked(case, person, holder, head_membership):
    for membership in (holder, head_membership):
        assert can_see(membership, case) and can_see(membership, person)
        assert visible(membership, FollowUp).filter(person=person).exists()


def test_a_heads_grant_opens_a_case_and_nothing_else(case, person, persona, head_membership):
    analyst = persona(Role.ANALYST)
    assert not can_see(analyst, case)
    grant_create(
        membership=head_membership,
        grantee=analyst,
        obj=case,
        reason="Annual report statistics check",
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    assert can_see(analyst, case)
    assert visible(analyst, Referral).count() == visible(head_membership, Referral).count()
    assert not can_see(analyst, ProtectedPerson.objects.get())


def test_counts_never_include_what_one_may_not_see(case, person, persona):
    leader = persona(Role.VISIT_LEADER)
    assert visible(leader, Case).count() == 0
    assert visible(leader, ProtectedPerson).count() == 0
    assert visible(leader, FollowUp).count() == 0
