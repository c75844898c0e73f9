"""The dossier of a place: its data, its history after an edit, documents, confidential notes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, login
from vigil.core.models import AuditEntry, Role
from vigil.places import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def datum(page: Page, term: str):
    """The value (dd) next to a term (dt) of the dossier's data."""
    return page.locator("#section-data + dl dt", has_text=term).locator(
        "xpath=following-sibling::dd[1]"
    )


def test_the_dossier_shows_the_data_of_the_place(page, head, registry):
    login(page, head)
    page.goto(f"/places/{registry.central.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Central Prison")
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("Open")
    expect(datum(page, "Type")).to_have_text("Prison")
    expect(datum(page, "Responsible authority")).to_have_text("Ministry of Justice")
    expect(datum(page, "Region")).to_have_text("North")
    expect(datum(page, "Address")).to_contain_text("1 Main Street")
    expect(datum(page, "Address")).to_contain_text("Capital City")
    expect(datum(page, "Official capacity")).to_have_text("500")
    expect(datum(page, "Current population")).to_contain_text("612")
    expect(datum(page, "Current population")).to_contain_text("122% of capacity")
    expect(datum(page, "External identifier")).to_have_text("P-0001")
    # Confidential notes are never on the page until someone asks for them.
    expect(page.get_by_text("The side gate code")).to_have_count(0)


def test_an_edit_through_the_form_appears_in_the_history(page, head, registry):
    login(page, head)
    page.goto(f"/places/{registry.central.pk}/")
    expect(page.locator("#history")).to_contain_text("No recorded changes.")

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Central Prison")
    page.locator("#id_official_capacity").fill("650")
    page.locator("#id_status").select_option(label="Temporary")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status")).to_contain_text("The changes were saved.")
    expect(page).to_have_url(re.compile(rf"/places/{registry.central.pk}/$"))
    expect(datum(page, "Official capacity")).to_have_text("650")
    entry = page.locator("#history .history > li").first
    expect(entry.locator(".who")).to_have_text("head")
    expect(entry.locator(".what")).to_have_text("changed")
    capacity_row = entry.locator("tr", has_text="Official capacity")
    expect(capacity_row.locator("td")).to_have_text(["Official capacity", "500", "650"])
    status_row = entry.locator("tr", has_text="Status")
    expect(status_row.locator("td")).to_have_text(
        ["Status", re.compile("^open$", re.I), re.compile("^temporary$", re.I)]
    )


def test_a_form_with_errors_keeps_what_was_typed_and_says_what_to_fix(page, head, registry):
    login(page, head)
    page.goto(f"/places/{registry.central.pk}/edit/")
    page.locator("#id_name").fill("")
    page.locator("#id_official_capacity").fill("650")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("alert")).to_contain_text("nothing was saved yet")
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.locator("#id_name_error")).to_be_visible()
    expect(page.locator("#id_official_capacity")).to_have_value("650")
    page.goto(f"/places/{registry.central.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Central Prison")


def test_attaching_a_document(page, head, registry):
    login(page, head)
    page.goto(f"/places/{registry.central.pk}/")
    documents = page.locator("#documents")
    expect(documents).to_contain_text("No documents attached yet.")

    # A file of a type Vigil does not keep is refused, and the page says why.
    documents.get_by_label("Title").fill("A program")
    documents.locator("input[type=file]").set_input_files(
        files=[{"name": "run.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90"}]
    )
    documents.get_by_role("button", name="Attach").click()
    expect(page.get_by_role("status")).to_contain_text("The document was not attached")
    expect(documents).to_contain_text("No documents attached yet.")

    documents.get_by_label("Title").fill("Report of the 2024 visit")
    documents.locator("input[type=file]").set_input_files(
        files=[
            {"name": "report.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}
        ]
    )
    documents.get_by_role("button", name="Attach").click()

    expect(page.get_by_role("status")).to_contain_text("The document was attached.")
    link = documents.get_by_role("link", name="Report of the 2024 visit")
    expect(link).to_be_visible()
    expect(documents).to_contain_text("report.pdf")
    expect(page.locator("#history .history > li").first.locator(".what")).to_have_text(
        "attached a document"
    )
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "report.pdf"


def test_revealing_the_confidential_notes_is_an_audited_act(page, head, registry):
    login(page, head)
    page.goto(f"/places/{registry.central.pk}/")
    notes = page.locator("#confidential-notes")
    expect(notes).to_contain_text("This place has confidential notes.")
    # The notes replace the button: a screen reader hears them without hunting for them.
    expect(notes).to_have_attribute("aria-live", "polite")
    assert not AuditEntry.objects.filter(action="places.place.read").exists()
    page.evaluate("window.vigilNotReloaded = true")

    notes.get_by_role("button", name="Show the confidential notes").click()

    expect(notes).to_contain_text("The side gate code is known to the visit leader.")
    expect(notes).to_contain_text("Your reading of these notes was recorded in the audit trail.")
    assert page.evaluate("window.vigilNotReloaded === true"), "the page was reloaded"
    entry = AuditEntry.objects.get(action="places.place.read")
    assert entry.actor == head
    assert entry.object_id == str(registry.central.pk)

    page.reload()
    expect(page.get_by_text("The side gate code")).to_have_count(0)
    expect(page.locator("#history .history > li").first.locator(".what")).to_have_text(
        "read confidential data"
    )


def test_a_monitor_is_told_the_notes_exist_but_cannot_reveal_them(page, monitor, registry):
    login(page, monitor)
    page.goto(f"/places/{registry.central.pk}/")
    notes = page.locator("#confidential-notes")
    expect(notes).to_contain_text("which your role does not show")
    expect(notes.get_by_role("button")).to_have_count(0)


def test_a_save_over_someone_elses_change_shows_both_and_saves_on_request(
    page, head, persona, registry
):
    """Two people edit the same place: the second save is refused with the first person's
    values beside what was typed, nothing is lost, and saving again keeps the form."""
    login(page, head)
    page.goto(f"/places/{registry.central.pk}/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Central Prison")
    # Meanwhile the visit leader saves the same place.
    services.place_update(
        membership=persona(Role.VISIT_LEADER),
        place=registry.central,
        data={"official_capacity": 10, "notes": "Wing B closed."},
    )
    page.locator("#id_official_capacity").fill("650")
    page.get_by_role("button", name="Save changes").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Changed by leader at")
    expect(alert).to_contain_text("since you opened it.")
    expect(page.locator("#id_official_capacity")).to_have_value("650")
    expect(page.locator("#id_official_capacity_conflict")).to_have_text(
        "Changed by leader to “10” (it was “500”). The field keeps what you typed; saving again "
        "replaces their value."
    )
    expect(page.locator("#id_official_capacity")).to_have_accessible_description(
        re.compile("Changed by leader to “10”")
    )
    expect(page.locator("#id_notes")).to_have_value("Wing B closed.")
    alert.get_by_role("link", name="Official capacity").click()
    expect(page.locator("#id_official_capacity")).to_be_in_viewport()
    assert_accessible(page)

    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("The changes were saved.")
    expect(datum(page, "Official capacity")).to_have_text("650")
    registry.central.refresh_from_db()
    assert (registry.central.official_capacity, registry.central.notes) == (650, "Wing B closed.")
