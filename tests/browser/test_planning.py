"""A head plans a quarter in real Chromium: generates the programme, locks two visits, re-plans,
approves, and finds the planned visits; every page accessible, on a phone too."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, login
from tests.browser.test_accessibility import PageChecks
from tests.factories import MembershipFactory, PlaceFactory
from vigil.core.models import Role
from vigil.planning.models import MonitorProfile, Programme
from vigil.visits.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS", "")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def body_with_monitors(body, persona):
    for number in range(4):
        member = MembershipFactory(body=body, role=Role.MONITOR)
        MonitorProfile.objects.create(
            membership=member, gender="female" if number % 2 else "male", days_per_month=8
        )
    for number in range(6):
        PlaceFactory(body=body, name=f"Eastfield Prison {number}", official_capacity=90)
    return body


def test_a_head_plans_a_quarter_locks_re_plans_and_approves(page, head, body_with_monitors):
    login(page, head)
    pages = PageChecks(page)
    pages.visit("/planning/", "Visit programme", "programmes, none yet")
    page.get_by_label("Title").fill("Spring round")
    page.get_by_label("First month").fill("2027-04-01")
    page.get_by_role("button", name="Generate the programme").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Spring round")
    expect(page.get_by_text("The planner proposed")).to_be_visible()
    pages.check("a programme", "Spring round")
    shot(page, "planning-programme")
    programme = Programme.objects.get(title="Spring round")
    lock_buttons = page.get_by_role("button", name="Lock", exact=True)
    expect(lock_buttons.first).to_be_visible()
    lock_buttons.first.click()
    expect(page.get_by_text("Locked: re-planning keeps this visit")).to_be_visible()
    page.get_by_role("button", name="Lock", exact=True).first.click()
    expect(page.get_by_text("Locked: re-planning keeps this visit")).to_be_visible()
    assert programme.entries.filter(locked=True).count() == 2
    locked = dict(programme.entries.filter(locked=True).values_list("place_id", "month"))
    page.get_by_role("button", name="Re-plan around the locked visits").click()
    expect(page.get_by_text("Re-planned around the locked visits.")).to_be_visible()
    assert dict(programme.entries.filter(locked=True).values_list("place_id", "month")) == locked
    entry = programme.entries.first()
    pages.visit(f"/planning/{programme.pk}/places/{entry.place_id}/", "in this programme", "why")
    pages.visit("/planning/risk/", "Risk of each place")
    pages.visit("/planning/monitors/", "Monitors")
    pages.visit("/planning/settings/", "Planning settings")
    page.goto(f"/planning/{programme.pk}/")
    page.get_by_role("button", name="Approve: make them planned visits").click()
    expect(page.get_by_text("Approved: its visits are now planned visits")).to_be_visible()
    count = programme.entries.count()
    assert Visit.objects.filter(body=body_with_monitors, is_announced=False).count() == count
    page.goto("/visits/")
    expect(page.get_by_role("link", name="Eastfield Prison 0")).to_be_visible()
    page.set_viewport_size(PHONE)
    pages.visit(f"/planning/{programme.pk}/", "Spring round", "approved programme on a phone")
    shot(page, "planning-programme-phone")
    pages.assert_clean()
