"""Who may know a visit exists: an unannounced visit is secret until it starts; interviews are
need-to-know even once the visit is known. Every surface, every persona."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from tests.invisibility import assert_invisible
from tests.visits.conftest import staff, start
from vigil.core.access import can_see
from vigil.core.models import Role
from vigil.visits import services
from vigil.visits.models import Visit

pytestmark = pytest.mark.django_db

OFF_TEAM_WITHOUT_SECRET = [Role.MONITOR, Role.ANALYST, Role.ADMIN, Role.AUDITOR]


@pytest.mark.parametrize("role", [*OFF_TEAM_WITHOUT_SECRET, Role.AUTHORITY_FOCAL_POINT])
def test_a_secret_visit_does_not_exist_off_the_team(persona, visit, role):
    assert assert_invisible(persona(role), visit) > 10


@pytest.mark.parametrize("role", list(Role))
def test_another_bodys_members_never_see_a_visit(other_body, visit, leader, role):
    start(visit, leader)
    stranger = MembershipFactory(
        user=UserFactory(username=f"stranger-{role}"), body=other_body, role=role
    )
    assert assert_invisible(stranger, visit) > 10


def test_heads_leaders_and_the_team_know_a_secret_visit(persona, visit, leader):
    monitor = persona(Role.MONITOR)
    assert can_see(persona(Role.HEAD), visit)
    other_leader = MembershipFactory(
        user=UserFactory(username="leader-2"), body=visit.body, role=Role.VISIT_LEADER
    )
    assert can_see(other_leader, visit)
    assert not can_see(monitor, visit)
    staff(visit, leader, monitor)
    assert can_see(monitor, visit)


def test_the_secret_ends_when_the_visit_starts_but_not_for_external_roles(persona, visit, leader):
    start(visit, leader)
    assert can_see(persona(Role.ANALYST), visit)
    assert assert_invisible(persona(Role.AUTHORITY_FOCAL_POINT), visit) > 10


def test_an_announced_visit_is_known_before_it_starts(persona, visit, leader):
    services.visit_update(membership=leader, visit=visit, data={"is_announced": True})
    assert can_see(persona(Role.MONITOR), visit)


def test_the_coordinating_body_sees_member_visits_but_never_their_secrets(
    member_body, head_membership
):
    regional_leader = MembershipFactory(
        user=UserFactory(username="regional-leader"), body=member_body, role=Role.VISIT_LEADER
    )
    place = PlaceFactory(body=member_body, name="Member Lock-up")
    secret_place = PlaceFactory(body=member_body, name="Member Safe House", is_confidential=True)
    import datetime

    day = datetime.date(2026, 12, 1)
    data = {"kind": "regular", "planned_start": day, "planned_end": day}
    secret = services.visit_create(
        membership=regional_leader, data={**data, "place": place, "is_announced": False}
    )
    announced = services.visit_create(
        membership=regional_leader, data={**data, "place": place, "is_announced": True}
    )
    confidential = services.visit_create(
        membership=regional_leader,
        data={**data, "place": secret_place, "is_announced": True},
    )
    assert can_see(head_membership, announced)
    assert assert_invisible(head_membership, secret) > 10
    assert assert_invisible(head_membership, confidential) > 10


def test_counts_and_filters_do_not_betray_a_secret_visit(client_for, persona, visit):
    monitor = persona(Role.MONITOR)
    client = client_for(monitor)
    home = client.get(reverse("home"))
    cards = {card.key: context for card, context in home.context["cards"]}
    assert cards["visits"]["count"] == 0
    listing = client.get(reverse("visits:list"))
    assert listing.context["page"].paginator.count == 0
    # The place of the secret visit is not offered as a filter choice either.
    assert visit.place.name not in listing.content.decode()
    api = APIClient()
    api.force_authenticate(monitor.user)
    assert api.get("/api/v1/visits/").json()["results"] == []
    dossier = client.get(reverse("places:detail", args=[visit.place.pk])).content.decode()
    assert reverse("visits:detail", args=[visit.pk]) not in dossier


def test_interview_content_is_need_to_know_once_the_visit_is_known(
    client_for, persona, visit, leader, body
):
    from tests.visits.test_fieldwork import record_interview

    visit = start(visit, leader)
    staff(visit, leader)
    interview = record_interview(visit, leader, notes="The guards come at night.")
    analyst = persona(Role.ANALYST)
    # The analyst may know an interview happened (its pseudonym), never read it.
    page = client_for(analyst).get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert interview.pseudonym in page
    detail = reverse("visits:interview_detail", args=[visit.pk, interview.pk])
    assert client_for(analyst).get(detail).status_code == 404
    api = APIClient()
    api.force_authenticate(analyst.user)
    assert api.post(f"/api/v1/interviews/{interview.pk}/notes/").status_code == 404
    # The head reads it, and the read is recorded.
    response = client_for(persona(Role.HEAD)).get(detail)
    assert "The guards come at night." in response.content.decode()


def test_visit_lookups_with_malformed_ids_are_404(client_for, head):
    assert client_for(head).get("/visits/99999999999999/").status_code == 404
    assert not Visit.objects.exists()
