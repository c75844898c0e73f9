"""Visits in the tests: a place, a planned unannounced visit led by the visit leader, and helpers
to start it and staff it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import PlaceFactory
from vigil.core.models import Membership, Role, TaxonomyTerm
from vigil.visits import services
from vigil.visits.models import Visit, VisitStatus


@pytest.fixture
def place(body):
    return PlaceFactory(body=body, name="Northgate Remand Prison")


@pytest.fixture
def leader(persona) -> Membership:
    return persona(Role.VISIT_LEADER)


@pytest.fixture
def visit(leader, place) -> Visit:
    """Unannounced and not started: secret."""
    today = timezone.localdate()
    return services.visit_create(
        membership=leader,
        data={
            "place": place,
            "kind": "regular",
            "is_announced": False,
            "planned_start": today + datetime.timedelta(days=3),
            "planned_end": today + datetime.timedelta(days=4),
        },
    )


def start(visit: Visit, leader: Membership) -> Visit:
    return services.visit_set_status(membership=leader, visit=visit, status=VisitStatus.IN_PROGRESS)


def staff(visit: Visit, leader: Membership, *members: Membership) -> None:
    """Put members on the team, and have everyone confirm the code of conduct."""
    for member in members:
        services.team_add(membership=leader, visit=visit, member=member)
    for member in (leader, *members):
        services.team_confirm_conduct(membership=member, visit=visit)


def theme(body, code: str = "overcrowding") -> TaxonomyTerm:
    return TaxonomyTerm.objects.get(body=body, kind="theme", code=code)


@pytest.fixture(autouse=True)
def _english():
    """Services word their messages in the active language; a page another test requested in
    French must not leave these tests reading French."""
    from django.utils import translation

    with translation.override("en"):
        yield
