"""A monitor on a phone opens a case from an interview, refers it as far as the consent goes,
follows the person up, records a transfer, and the new place's preparation pack lists the
person by pseudonym, never by name. Every page accessible; nothing scrolls sideways."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, login
from tests.browser.test_accessibility import PageChecks
from tests.factories import PlaceFactory
from tests.visits.conftest import staff, start
from vigil.core.models import Role
from vigil.protection.models import Case, ProtectedPerson
from vigil.visits import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IDENTITY = "Quentin Marlowe-Ashby"


@pytest.fixture
def interview_world(persona, body):
    leader = persona(Role.VISIT_LEADER)
    monitor = persona(Role.MONITOR)
    here = PlaceFactory(body=body, name="Northgate Remand Prison")
    there = PlaceFactory(body=body, name="Southmoor Prison")
    today = timezone.localdate()
    visit = services.visit_create(
        membership=leader,
        data={"place": here, "planned_start": today, "planned_end": today, "is_announced": True},
    )
    staff(visit, leader, monitor)
    visit = start(visit, leader)
    interview = services.interview_create(
        membership=monitor,
        visit=visit,
        data={
            "kind": "private",
            "category": "detainee",
            "consent_referral": True,
            "identity": IDENTITY,
        },
    )
    next_visit = services.visit_create(
        membership=leader,
        data={"place": there, "planned_start": today, "planned_end": today, "is_announced": True},
    )
    services.team_add(membership=leader, visit=next_visit, member=monitor)
    return monitor, visit, interview, next_visit


def test_a_case_from_an_interview_to_the_next_preparation_pack(page, interview_world):
    monitor, visit, interview, next_visit = interview_world
    page.set_viewport_size(PHONE)
    login(page, monitor.user)
    pages = PageChecks(page)
    pages.visit(f"/visits/{visit.pk}/interviews/{interview.pk}/", "Interview", "interview")
    page.get_by_role("link", name="Open a case from this interview").click()
    pages.check("case form", "Open a case")
    page.get_by_label("Informed consent").select_option("referral")
    page.get_by_label("Prosecutor").check()
    page.get_by_label("Consent given on").fill(timezone.localdate().isoformat())
    page.get_by_label("What the person says happened").fill("Beaten during the night count")
    page.get_by_role("button", name="Open the case").click()
    pages.check("case", "Case C-")
    case = Case.objects.get()
    assert case.pseudonym == interview.pseudonym

    page.get_by_role("link", name="Refer the case").click()
    pages.check("referral form", "Refer the case")
    page.get_by_label("Referred to").select_option("lawyer")
    page.get_by_role("button", name="Record the referral").click()
    expect(page.get_by_text("not to Lawyer", exact=False)).to_be_visible()
    page.get_by_label("Referred to").select_option("prosecutor")
    page.get_by_role("button", name="Record the referral").click()
    expect(page.get_by_text("Referred to Prosecutor")).to_be_visible()

    page.get_by_role("link", name="Follow up this person").click()
    pages.check("person form", "Follow up a person at risk")
    page.get_by_label("Risk level").select_option("high")
    page.get_by_role("button", name="Start the follow-up").click()
    pages.check("person", interview.pseudonym)
    person = ProtectedPerson.objects.get()

    page.get_by_role("link", name="Record a transfer").click()
    pages.check("transfer form", "Record a transfer")
    page.get_by_label("Moved to").select_option(label="Southmoor Prison")
    page.get_by_role("button", name="Record the transfer").click()
    expect(page.get_by_text("the follow-up moved with the person")).to_be_visible()
    person.refresh_from_db()
    assert person.current_place.name == "Southmoor Prison"

    pages.visit(f"/visits/{next_visit.pk}/preparation/", "Preparing the visit to", "pack")
    expect(page.get_by_text(person.pseudonym)).to_be_visible()
    assert IDENTITY not in page.content()
    pages.visit("/protection/", "Cases", "register")
    pages.visit("/protection/persons/", "Persons at risk", "persons")
    pages.assert_clean()
