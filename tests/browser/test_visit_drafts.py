"""A monitor on a phone types interview notes; the page keeps a draft as they type ("Saved at
14:02"); the tab is reloaded (a dropped connection, a closed tab) and the notes come back; saving
the interview deletes the draft."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible, login
from tests.factories import PlaceFactory
from tests.visits.conftest import staff, start
from vigil.core.models import Role
from vigil.visits import services
from vigil.visits.models import Draft, Interview

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTES = "He says the night shift takes away the mattresses at 22:00 in Unit C."


@pytest.fixture
def running(persona, body):
    leader = persona(Role.VISIT_LEADER)
    monitor = persona(Role.MONITOR)
    place = PlaceFactory(body=body, name="Northgate Remand Prison")
    visit = services.visit_create(
        membership=leader,
        data={
            "place": place,
            "planned_start": timezone.localdate(),
            "planned_end": timezone.localdate() + datetime.timedelta(days=1),
        },
    )
    staff(visit, leader, monitor)
    return start(visit, leader), monitor


def test_interview_notes_survive_a_reload_and_go_once_saved(page, running):
    visit, monitor = running
    page.set_viewport_size(PHONE)
    login(page, monitor.user)
    page.goto(f"/visits/{visit.pk}/interviews/new/")
    page.get_by_label("Private (one person)").check()
    page.get_by_label("Category").select_option("detainee")
    page.get_by_label("Unit or area").fill("Unit C")
    page.get_by_label("Notes").fill(NOTES)
    status = page.locator("#draft-status")
    expect(status).to_contain_text("Saved at")
    expect(status).to_have_attribute("aria-live", "polite")
    assert_accessible(page)

    page.reload()
    offer = page.locator("#draft-offer")
    expect(offer).to_be_visible()
    page.get_by_role("button", name="Restore the draft").click()
    expect(page.get_by_label("Notes")).to_have_value(NOTES)
    expect(page.get_by_label("Unit or area")).to_have_value("Unit C")
    expect(page.get_by_label("Private (one person)")).to_be_checked()

    page.get_by_role("button", name="Record the interview").click()
    expect(page.get_by_text("The interview is recorded as")).to_be_visible()
    assert Interview.objects.get().notes == NOTES
    assert not Draft.objects.exists()
    # Opening the form again offers nothing: the draft went with the save.
    page.goto(f"/visits/{visit.pk}/interviews/new/")
    expect(page.get_by_label("Notes")).to_have_value("")
    page.wait_for_function(
        "() => !Object.keys(window.localStorage).some((key) => key.startsWith('vigil-draft:'))"
    )
    expect(page.locator("#draft-offer")).to_be_hidden()


def test_a_photo_attached_on_a_phone_is_listed_without_its_location(page, running):
    from tests.browser.test_accessibility import PageChecks
    from tests.visits.conftest import theme
    from tests.visits.test_evidence import jpeg_with_gps
    from vigil.core.files import read_file
    from vigil.visits.models import Evidence

    visit, monitor = running
    interview = services.interview_create(
        membership=monitor,
        visit=visit,
        data={"kind": "private", "category": "detainee", "unit": "Unit C"},
    )
    finding = services.observation_create(
        membership=monitor,
        visit=visit,
        data={
            "theme": theme(visit.body),
            "unit": "Unit C",
            "description": "Mattresses are taken away at night.",
        },
        interviews=[interview],
    )
    page.set_viewport_size(PHONE)
    login(page, monitor.user)
    pages = PageChecks(page)
    pages.visit(f"/visits/{visit.pk}/observations/{finding.pk}/", "Unit C", "finding")
    page.get_by_label("Photo, scan or recording").set_input_files(
        {"name": "cell.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}
    )
    page.get_by_label("Title").fill("Empty bed frame, cell 12")
    page.get_by_role("button", name="Attach the file").click()
    expect(page.get_by_text("The file is attached.")).to_be_visible()
    expect(page.get_by_role("link", name="Empty bed frame, cell 12")).to_be_visible()
    pages.check("finding with a photo", "Unit C")
    assert b"GPS" not in read_file(Evidence.objects.get().file)
    pages.visit(f"/visits/{visit.pk}/interviews/{interview.pk}/", "Interview", "interview")
    pages.visit(
        f"/visits/{visit.pk}/interviews/{interview.pk}/edit/", "Correct interview", "correction"
    )
    pages.assert_clean()
