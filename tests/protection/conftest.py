"""Cases and persons at risk in the tests: a monitor who holds them, places to move people
between, and a case opened from a private interview of a started visit."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import PlaceFactory
from vigil.core.models import Membership, Role
from vigil.protection import services
from vigil.protection.models import Case, Consent, ProtectedPerson
from vigil.visits import services as visit_services
from vigil.visits.models import VisitStatus

IDENTITY = "Jonas Quillfeather, born 1990-04-12"
NARRATIVE = "Beaten with batons in cell block Zephyr during the night count"


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def place(body):
    return PlaceFactory(body=body, name="Northgate Remand Prison")


@pytest.fixture
def other_place(body):
    return PlaceFactory(body=body, name="Southmoor Prison")


@pytest.fixture
def holder(persona) -> Membership:
    return persona(Role.MONITOR)


def today() -> datetime.date:
    return timezone.localdate()


@pytest.fixture
def case(holder, place) -> Case:
    return services.case_create(
        membership=holder,
        data={
            "source": "letter",
            "events_date": today() - datetime.timedelta(days=10),
            "events_place": place,
            "current_place": place,
            "perpetrator_category": "prison_staff",
            "consent": Consent.REFERRAL,
            "consent_targets": ["prosecutor"],
            "consent_date": today() - datetime.timedelta(days=2),
            "narrative": NARRATIVE,
            "identity": IDENTITY,
            "contact": "+000 555 0101",
            "medical_details": "Fractured left wrist",
        },
    )


@pytest.fixture
def person(holder, place) -> ProtectedPerson:
    return services.person_create(
        membership=holder,
        data={
            "current_place": place,
            "risk_level": "high",
            "risk_reason": "Named the guards who beat him",
            "identity": IDENTITY,
        },
    )


@pytest.fixture
def started_visit(persona, place):
    leader = persona(Role.VISIT_LEADER)
    day = today()
    visit = visit_services.visit_create(
        membership=leader,
        data={
            "place": place,
            "kind": "regular",
            "is_announced": True,
            "planned_start": day,
            "planned_end": day,
        },
    )
    visit = visit_services.visit_set_status(
        membership=leader, visit=visit, status=VisitStatus.IN_PROGRESS
    )
    visit_services.team_confirm_conduct(membership=leader, visit=visit)
    return visit
