"""A place that a member may not see is absent from every surface (tests/invisibility.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from tests.invisibility import assert_invisible
from vigil.core.models import Role
from vigil.places import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_place(body, head_membership):
    place = services.place_create(
        membership=head_membership,
        data={
            "name": "Quarry Holding Site",
            "place_type": body.taxonomy_terms.get(kind="place_type", code="prison"),
            "confidential_notes": "Gate code 7781",
        },
    )
    return place


@pytest.mark.parametrize("role", list(Role))
def test_another_bodys_member_of_every_role_finds_nothing(other_body, secret_place, role):
    stranger = MembershipFactory(
        user=UserFactory(username=f"stranger-{role}"), body=other_body, role=role
    )
    assert assert_invisible(stranger, secret_place) > 10


def test_focal_point_finds_no_place(persona, secret_place):
    assert assert_invisible(persona(Role.AUTHORITY_FOCAL_POINT), secret_place) > 10


def test_coordinating_body_finds_no_confidential_place_of_a_member_body(
    member_body, head_membership, personas
):
    regional_head = MembershipFactory(
        user=UserFactory(username="regional-head"), body=member_body, role=Role.HEAD
    )
    confidential = services.place_create(
        membership=regional_head,
        data={
            "name": "Member Body Safe House",
            "place_type": member_body.taxonomy_terms.get(kind="place_type", code="prison"),
            "is_confidential": True,
        },
    )
    assert assert_invisible(head_membership, confidential) > 10


def test_a_trashed_place_is_gone_for_a_monitor(body, persona):
    place = PlaceFactory(body=body, name="Closed Annex", deleted_at=timezone.now())
    assert assert_invisible(persona(Role.MONITOR), place) > 10


def test_a_merge_never_reveals_a_confidential_place_to_the_coordinating_body(
    member_body, head_membership
):
    """A confidential place merged into a shared one makes the kept place confidential."""
    analyst = MembershipFactory(
        user=UserFactory(username="regional-analyst"), body=member_body, role=Role.ANALYST
    )
    kept = PlaceFactory(body=member_body, name="Shared Station")
    hidden = PlaceFactory(body=member_body, name="Hidden Station", is_confidential=True)
    services.place_merge(membership=analyst, keep=kept, merge=hidden)
    kept.refresh_from_db()
    assert kept.is_confidential
    assert assert_invisible(head_membership, kept) > 10
