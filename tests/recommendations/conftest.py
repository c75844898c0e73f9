"""Recommendations in the tests: a small directory of authorities (a ministry, its prison
service, a prison's management; a separate health ministry), focal points linked to them, and a
helper to issue a recommendation through the service."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from vigil.core.models import Membership, Role, TaxonomyTerm
from vigil.recommendations import services
from vigil.recommendations.models import Authority, AuthorityKind, FocalPoint, Recommendation


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def writer(persona) -> Membership:
    """The analyst writes recommendations."""
    return persona(Role.ANALYST)


@pytest.fixture
def place(body):
    return PlaceFactory(body=body, name="Northgate Remand Prison")


@pytest.fixture
def directory(head_membership, place):
    ministry = services.authority_create(
        membership=head_membership,
        data={
            "name": "Ministry of Justice",
            "kind": AuthorityKind.MINISTRY,
            "email": "moj@example.org",
        },
    )
    service = services.authority_create(
        membership=head_membership,
        data={"name": "Prison Service", "kind": AuthorityKind.AGENCY, "parent": ministry},
    )
    prison = services.authority_create(
        membership=head_membership,
        data={"name": "Northgate management", "kind": AuthorityKind.INSTITUTION, "parent": service},
        places=[place],
    )
    health = services.authority_create(
        membership=head_membership,
        data={"name": "Ministry of Health", "kind": AuthorityKind.MINISTRY},
    )
    return {"ministry": ministry, "service": service, "prison": prison, "health": health}


def theme(body, code: str = "overcrowding") -> TaxonomyTerm:
    return TaxonomyTerm.objects.get(body=body, kind="theme", code=code)


def issue(membership, authority, *, places=(), systemic=False, **data) -> Recommendation:
    values = {
        "text": data.pop("text", "Reduce the population to the official capacity."),
        "authority": authority,
        "is_systemic": systemic,
        "issued_on": data.pop("issued_on", timezone.localdate() - datetime.timedelta(days=1)),
    }
    values.update(data)
    return services.recommendation_create(
        membership=membership,
        data=values,
        places=places,
        themes=[theme(membership.body)],
    )


def focal_member(body, username: str) -> Membership:
    return MembershipFactory(
        user=UserFactory(username=username, email=f"{username}@example.org"),
        body=body,
        role=Role.AUTHORITY_FOCAL_POINT,
    )


@pytest.fixture
def focal(persona, directory, head_membership) -> Membership:
    """The persona focal point, linked to the prison service (not its units)."""
    member = persona(Role.AUTHORITY_FOCAL_POINT)
    services.focal_point_set(
        membership=head_membership, target=member, authority=directory["service"]
    )
    return member


@pytest.fixture
def health_focal(body, directory, head_membership) -> Membership:
    """A focal point of another authority: nothing addressed to justice exists for them."""
    member = focal_member(body, "health-focal")
    services.focal_point_set(
        membership=head_membership, target=member, authority=directory["health"]
    )
    return member


def link(head, member, authority, *, include_subordinates=False) -> FocalPoint:
    return services.focal_point_set(
        membership=head,
        target=member,
        authority=authority,
        include_subordinates=include_subordinates,
    )


from vigil.visits import services as visit_services  # noqa: E402
from vigil.visits.models import VisitStatus  # noqa: E402

TODAY = timezone.localdate


@pytest.fixture
def finding(persona, place, directory):
    leader = persona(Role.VISIT_LEADER)
    today = TODAY()
    visit = visit_services.visit_create(
        membership=leader,
        data={
            "place": place,
            "kind": "regular",
            "is_announced": True,
            "planned_start": today,
            "planned_end": today,
        },
    )
    visit_services.team_confirm_conduct(membership=leader, visit=visit)
    visit = visit_services.visit_set_status(
        membership=leader, visit=visit, status=VisitStatus.IN_PROGRESS
    )
    return visit_services.observation_create(
        membership=leader,
        visit=visit,
        data={
            "theme": theme(visit.body),
            "description": "Four people in a cell built for two.",
            "other_sources": ["direct_observation"],
        },
    )


__all__ = ["Authority", "focal_member", "issue", "link", "theme"]
