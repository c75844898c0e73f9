"""axe-core on every page of a visit, from the list to the debriefing, at desktop width and on a
phone: the pages a monitor uses in the field."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.browser.conftest import PHONE, login
from tests.browser.test_accessibility import PageChecks
from tests.factories import PlaceFactory
from tests.visits.conftest import staff, start
from tests.visits.test_debriefing import debrief
from tests.visits.test_fieldwork import record_finding, record_interview
from tests.visits.test_questionnaires import import_form
from vigil.core.models import Role
from vigil.visits import questionnaires, services
from vigil.visits.models import SourceKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fieldwork(persona, body):
    """A visit under way with a team, an interview, a finding, a register checked, a difficulty,
    a debriefing and a questionnaire in use: something on every page."""
    leader = persona(Role.VISIT_LEADER)
    place = PlaceFactory(body=body, name="Northgate Remand Prison")
    visit = services.visit_create(
        membership=leader,
        data={
            "place": place,
            "planned_start": timezone.localdate(),
            "planned_end": timezone.localdate(),
        },
    )
    staff(visit, leader)
    visit = start(visit, leader)
    interview = record_interview(visit, leader, notes="Spoke of the night shift.")
    finding = record_finding(
        visit, leader, sources=[SourceKind.DIRECT_OBSERVATION, SourceKind.DOCUMENTS]
    )
    check = services.register_check_create(
        membership=leader,
        visit=visit,
        data={"register_kind": "custody", "sample_size": 20},
        discrepancies=["Two admissions of 3 May missing"],
    )
    services.obstruction_create(
        membership=leader,
        visit=visit,
        data={
            "kind": "gate_delay",
            "occurred_at": timezone.now(),
            "description": "Kept at the gate for forty minutes.",
        },
    )
    debrief(visit, leader, findings=[finding])
    questionnaire = questionnaires.questionnaire_set_active(
        membership=leader, questionnaire=import_form(leader), active=True
    )
    return visit, interview, finding, check, questionnaire, leader


def visit_pages(pages: PageChecks, fieldwork) -> None:
    visit, interview, _finding, _check, questionnaire, _ = fieldwork
    place = visit.place.name
    base = f"/visits/{visit.pk}"
    pages.visit("/visits/", "Visits", "list")
    pages.visit("/visits/?status=closed", "Visits", "list, filtered to nothing")
    pages.visit("/visits/new/", "Plan a visit")
    pages.visit(f"{base}/", f"Visit to {place}", "visit")
    pages.visit(f"{base}/edit/", "Edit the visit")
    pages.visit(f"{base}/team/", "Add a team member")
    pages.visit(f"{base}/preparation/", f"Preparing the visit to {place}")
    pages.visit(f"{base}/interviews/new/", "Record an interview")
    pages.visit(f"{base}/interviews/{interview.pk}/", f"Interview {interview.pseudonym}")
    pages.visit(f"{base}/observations/new/", "Record a finding")
    pages.visit(f"{base}/registers/new/", "Record a register checked")
    pages.visit(f"{base}/obstructions/new/", "Record a difficulty")
    pages.visit(f"{base}/answers/", "Answers to questionnaires")
    pages.visit(f"{base}/questionnaires/{questionnaire.pk}/answer/", str(questionnaire))
    pages.visit(f"{base}/submissions/", "Import submissions from ODK or Kobo")
    pages.visit(f"{base}/debriefing/", f"Debriefing at {place}")
    pages.visit(f"{base}/debriefing/edit/", "Change the debriefing")
    pages.visit("/questionnaires/", "Questionnaires")
    pages.visit("/questionnaires/new/", "Import an XLSForm")
    pages.visit("/questionnaires/standards/", "International standards")
    pages.visit(f"/questionnaires/{questionnaire.pk}/", questionnaire.title)


def test_pages_of_a_visit(page, fieldwork):
    login(page, fieldwork[-1].user)
    pages = PageChecks(page)
    visit_pages(pages, fieldwork)
    pages.assert_clean()


def test_pages_of_a_visit_on_a_phone(page, fieldwork):
    page.set_viewport_size(PHONE)
    login(page, fieldwork[-1].user)
    pages = PageChecks(page)
    visit_pages(pages, fieldwork)
    pages.assert_clean()
