"""Daily use on a desktop and on a phone: tables that fit a phone, filters folded there, lists that
do not submit on change, the place form's range check, in English, French and Spanish."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, login
from tests.factories import MembershipFactory
from vigil.core.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIDEWAYS = """() => {
  const problems = [];
  const page = document.documentElement.scrollWidth;
  if (page > window.innerWidth) {
    problems.push(`the page is ${page}px wide on a ${window.innerWidth}px screen`);
  }
  for (const wrap of document.querySelectorAll(".table-wrap")) {
    if (wrap.scrollWidth > wrap.clientWidth) {
      problems.push(`a table scrolls sideways: ${wrap.scrollWidth}px in ${wrap.clientWidth}px`);
    }
  }
  return problems;
}"""

# The label a stacked table shows before a cell's value (its ::before content), per cell.
SHOWN_LABELS = """(selector) => Array.from(document.querySelectorAll(selector)).map(
  (cell) => getComputedStyle(cell, "::before").content)"""


def assert_fits(page: Page, heading: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(SIDEWAYS) == []


def places_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["ID", "Name", "Type", "Address", "Capacity", "Latitude", "Longitude"])
    for number in range(4):
        writer.writerow(
            [
                f"PH-{number}",
                f"Riverside Remand Centre With A Long Name {number}",
                "prison",
                f"{number} A Rather Long Street Name In The Old Town District",
                120 + number,
                "10.629714",
                "22.294361",
            ]
        )
    return buffer.getvalue().encode()


def test_the_lists_fit_a_phone_as_cards(page, head, registry):
    page.set_viewport_size(PHONE)
    login(page, head)

    page.goto("/places/")
    assert_fits(page, "Places of deprivation of liberty")
    first = page.locator("#results tbody tr").first
    expect(first).to_contain_text("Central Prison")
    labels = page.evaluate(SHOWN_LABELS, "#results tbody tr:first-child td")
    assert labels == [
        "none",
        '"Type"',
        '"Region"',
        '"Authority"',
        '"Status"',
        '"Capacity"',
        '"Population"',
    ]
    # Sorting is still there, as a bar of links above the cards.
    expect(page.get_by_role("link", name="Capacity")).to_be_visible()

    page.goto("/users/")
    assert_fits(page, "Users and roles")
    assert page.evaluate(SHOWN_LABELS, "tbody tr:first-child td")[:3] == [
        '"Role"',
        '"Status"',
        '"Last sign-in"',
    ]

    page.goto("/audit/")
    assert_fits(page, "Audit trail")
    assert page.evaluate(SHOWN_LABELS, "tbody tr:first-child > td")[0] == '"When"'

    page.goto("/taxonomy/")
    assert_fits(page, "Themes, groups and types of place")

    page.goto("/imports/places/new/")
    page.get_by_label("File").set_input_files(
        files=[{"name": "places.csv", "mimeType": "text/csv", "buffer": places_csv()}]
    )
    page.get_by_role("button", name="Upload and continue").click()
    assert_fits(page, "Match the columns")
    page.get_by_role("button", name="Check the rows").click()
    assert_fits(page, "Check the import")
    row = page.locator("table.stacked tbody tr").first
    expect(row).to_contain_text("A Rather Long Street Name")
    assert '"Address"' in page.evaluate(SHOWN_LABELS, "table.stacked tbody tr:first-child td")


def test_on_a_desktop_the_lists_stay_tables(page, head, registry):
    login(page, head)
    page.goto("/places/")
    header = page.locator("#results thead th").first
    expect(header).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('#results td')).display") == (
        "table-cell"
    )
    assert page.evaluate(SHOWN_LABELS, "#results tbody tr:first-child td")[1] == "none"


def test_filters_start_folded_on_a_phone_and_are_always_there_on_a_desktop(page, head, registry):
    page.set_viewport_size(PHONE)
    login(page, head)
    page.goto("/places/")
    search = page.get_by_role("search")
    expect(search).to_be_hidden()
    page.get_by_text("Search and filters").click()
    expect(search).to_be_visible()

    # With a filter in use, the form is open to show it.
    page.goto("/places/?status=closed")
    expect(page.get_by_role("search")).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("closed")

    page.goto("/audit/")
    expect(page.get_by_role("search", name="Filter the audit trail")).to_be_hidden()

    page.set_viewport_size(DESKTOP)
    for path in ("/places/", "/places/map/", "/audit/"):
        page.goto(path)
        expect(page.get_by_role("search")).to_be_visible()
        # The summary would open and close nothing that can be seen: it is not shown.
        expect(page.locator(".filters-details > summary")).to_be_hidden()


def count_submits(page: Page) -> None:
    page.evaluate(
        """() => {
          window.vigilSubmits = 0;
          document.addEventListener("submit", () => { window.vigilSubmits += 1; }, true);
        }"""
    )


def test_choosing_a_language_or_a_body_waits_for_the_button(page, head, body, other_body):
    MembershipFactory(user=head, body=other_body, role=Role.ANALYST)
    login(page, head)
    page.goto("/places/")
    count_submits(page)

    page.get_by_label("Language").select_option("fr")
    page.get_by_label("Body", exact=True).select_option(str(other_body.pk))
    # Still this document, with nothing submitted: a change of a list is not a request.
    assert page.evaluate("window.vigilSubmits") == 0
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("button", name="Change", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lieux de privation de liberté")

    count_submits(page)
    page.get_by_label("Organe", exact=True).select_option(str(other_body.pk))
    assert page.evaluate("window.vigilSubmits") == 0
    page.locator(".body-switcher").get_by_role("button").click()
    expect(page.locator(".site-header .brand")).to_contain_text("Another Mechanism")


# Every element of the header's body switcher and of the filters' buttons, and whether each
# lies inside the screen without its text cut.
CONTROLS = """() => Array.from(document.querySelectorAll(
    ".body-switcher label, .body-switcher select, .body-switcher button, "
    + ".filters .form-actions .button, .site-header .user-menu button"
  )).map((element) => {
    const box = element.getBoundingClientRect();
    return {
      text: element.textContent.trim().slice(0, 40),
      inside: box.left >= 0 && box.right <= window.innerWidth && box.width > 0,
      whole: element.tagName === "SELECT" || element.scrollWidth <= element.clientWidth + 1,
    };
  })"""


@pytest.mark.parametrize(("language", "heading"), [("fr", "Lieux"), ("es", "Lugares")])
def test_the_body_switcher_and_filter_buttons_fit_a_phone_in_french_and_spanish(
    page, head, body, other_body, registry, language, heading
):
    MembershipFactory(user=head, body=other_body, role=Role.ANALYST)
    page.set_viewport_size(PHONE)
    login(page, head)
    page.get_by_label("Language").select_option(language)
    page.locator("footer").get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.goto("/places/?q=prison")
    assert_fits(page, heading)
    controls = page.evaluate(CONTROLS)
    assert len(controls) == 6, controls
    assert [control for control in controls if not (control["inside"] and control["whole"])] == []
    # The list of bodies has the width of the screen, less its button.
    select_width = page.evaluate("document.querySelector('.body-switcher select').clientWidth")
    assert select_width >= PHONE["width"] * 0.6


def test_the_place_form_says_a_coordinate_is_out_of_range_before_it_is_sent(page, head, body):
    login(page, head)
    page.goto("/places/new/")
    latitude = page.get_by_label("Latitude")
    latitude.fill("95")
    latitude.blur()
    message = page.locator("#id_latitude_range_error")
    expect(message).to_have_text("Latitude is between -90 and 90.")
    expect(latitude).to_have_attribute("aria-invalid", "true")
    expect(latitude).to_have_attribute("aria-describedby", "id_latitude_range_error")
    longitude = page.get_by_label("Longitude")
    longitude.fill("-181")
    longitude.blur()
    expect(page.locator("#id_longitude_range_error")).to_have_text(
        "Longitude is between -180 and 180."
    )
    latitude.fill("45.5")
    latitude.blur()
    expect(message).to_have_count(0)
    expect(latitude).not_to_have_attribute("aria-invalid", "true")
    # The server says the same of the value still out of range, once.
    page.locator("#id_name").fill("Hilltop Police Station")
    page.locator("#id_place_type").select_option(label="Police custody")
    page.get_by_role("button", name="Add the place").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_text("Longitude is between -180 and 180.")).to_have_count(1)
