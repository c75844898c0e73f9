"""A monitor on a phone at the end of a visit: registers checked, a difficulty, the debriefing
with its commitments, and the preparation pack; accessible, and nothing scrolls sideways."""

from __future__ import annotations

import datetime
import os

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, login
from tests.browser.test_accessibility import PageChecks
from tests.factories import PlaceFactory
from tests.visits.conftest import staff, start, theme
from vigil.core.models import Role
from vigil.visits import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Set VIGIL_SCREENSHOTS to a directory to keep a picture of each page (for a person to look at).
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def running(persona, body):
    leader = persona(Role.VISIT_LEADER)
    monitor = persona(Role.MONITOR)
    place = PlaceFactory(body=body, name="Northgate Remand Prison with a long official name")
    earlier = services.visit_create(
        membership=leader,
        data={
            "place": place,
            "planned_start": timezone.localdate() - datetime.timedelta(days=200),
            "planned_end": timezone.localdate() - datetime.timedelta(days=199),
            "is_announced": True,
        },
    )
    staff(earlier, leader)
    earlier = start(earlier, leader)
    services.register_check_create(
        membership=leader,
        visit=earlier,
        data={"register_kind": "use_of_force", "sample_size": 30},
        discrepancies=["Use-of-force-report-reference-FR-2024-000123-without-a-medical-check"],
    )
    visit = services.visit_create(
        membership=leader,
        data={
            "place": place,
            "planned_start": timezone.localdate(),
            "planned_end": timezone.localdate(),
        },
    )
    staff(visit, leader, monitor)
    visit = start(visit, leader)
    check = services.register_check_create(
        membership=monitor,
        visit=visit,
        data={"register_kind": "deaths_incidents", "sample_size": 12},
        discrepancies=["Two incidents of 3 May are missing from the register of incidents"],
    )
    services.discrepancy_to_observation(membership=monitor, discrepancy=check.discrepancies.get())
    services.observation_create(
        membership=monitor,
        visit=visit,
        data={
            "theme": theme(body),
            "unit": "Unit B",
            "description": "Beaten in the corridor at night.",
            "severity": "urgent",
            "other_sources": [],
        },
        interviews=[
            services.interview_create(
                membership=monitor,
                visit=visit,
                data={"kind": "private", "category": "detainee", "unit": "Unit B"},
            )
        ],
    )
    services.obstruction_create(
        membership=monitor,
        visit=visit,
        data={
            "kind": "interview_overheard",
            "occurred_at": timezone.now(),
            "officials": "Duty officer",
            "description": "A guard stood at the door during the private interviews.",
            "severity": "serious",
        },
    )
    return visit, monitor


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_end_of_a_visit_on_a_phone(page, running, viewport):
    visit, monitor = running
    page.set_viewport_size(viewport)
    login(page, monitor.user)
    pages = PageChecks(page)
    pages.visit(f"/visits/{visit.pk}/", "Visit to Northgate", "visit")
    shot(page, f"visit-{viewport['width']}")
    pages.visit(f"/visits/{visit.pk}/registers/new/", "Record a register checked", "register")
    page.get_by_role("button", name="Record the register check").click()
    expect(page.get_by_role("alert")).to_be_visible()
    pages.check("register form with errors", "Record a register checked")
    shot(page, f"register-{viewport['width']}")
    pages.visit(f"/visits/{visit.pk}/obstructions/new/", "Record a difficulty", "difficulty")
    shot(page, f"obstruction-{viewport['width']}")
    pages.visit(f"/visits/{visit.pk}/debriefing/", "Debriefing at", "no debriefing yet")
    pages.visit(f"/visits/{visit.pk}/debriefing/edit/", "Record the debriefing", "debriefing form")
    expect(page.get_by_text("Only 1 private interviews in Unit B")).to_be_visible()
    page.get_by_label("Attending for the authorities").fill("Mr J. Synthetic, director")
    page.get_by_label("Two incidents of 3 May", exact=False).check()
    shot(page, f"debriefing-form-{viewport['width']}")
    page.get_by_role("button", name="Save the debriefing").click()
    expect(page.get_by_role("heading", name="Commitments made by the management")).to_be_visible()
    page.get_by_role("textbox", name="Commitment").fill("Complete the register of incidents")
    page.get_by_label("Due by").fill(
        (timezone.localdate() + datetime.timedelta(days=14)).isoformat()
    )
    page.get_by_role("button", name="Add the commitment").click()
    expect(page.get_by_text("Complete the register of incidents")).to_be_visible()
    pages.check("debriefing", "Debriefing at")
    shot(page, f"debriefing-{viewport['width']}")
    pages.visit(f"/visits/{visit.pk}/preparation/", "Preparing the visit to", "preparation")
    expect(page.get_by_text("Use-of-force-report-reference", exact=False)).to_be_visible()
    shot(page, f"preparation-{viewport['width']}")
    pages.assert_clean()
