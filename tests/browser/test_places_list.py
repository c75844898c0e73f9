"""The list of places: search as you type, filters, sorting and pages, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def names(page: Page):
    return page.locator("#results tbody tr td:first-child a")


def expect_count(page: Page, number: int) -> None:
    noun = "place" if number == 1 else "places"
    expect(page.locator("#result-count")).to_have_text(re.compile(rf"^\s*{number} {noun}\b"))


def mark_document(page: Page) -> None:
    """Leave a mark on this document: if it survives, the page was updated, not reloaded."""
    page.evaluate("window.vigilNotReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.vigilNotReloaded === true"), "the page was reloaded"


def test_search_updates_the_results_as_one_types(page, head, registry):
    login(page, head)
    page.goto("/places/")
    expect_count(page, 60)
    mark_document(page)

    page.get_by_label("Search").press_sequentially("harbour")
    expect_count(page, 1)
    expect(names(page)).to_have_text(["Harbour Police Station"])
    expect(page).to_have_url(re.compile(r"[?&]q=harbour"))
    assert_not_reloaded(page)

    page.get_by_label("Search").fill("no such place anywhere")
    expect(page.get_by_role("heading", name="No place matches")).to_be_visible()
    expect_count(page, 0)

    page.get_by_label("Search").fill("")
    expect_count(page, 60)
    assert_not_reloaded(page)


def test_filters_by_type_and_by_status(page, head, registry):
    login(page, head)
    page.goto("/places/")
    expect_count(page, 60)
    mark_document(page)

    page.get_by_label("Type", exact=True).select_option(label="Psychiatric hospital")
    expect_count(page, 1)
    expect(names(page)).to_have_text(["St Anne Psychiatric Hospital"])
    expect(page).to_have_url(re.compile(r"[?&]place_type=\d+"))

    page.get_by_label("Type", exact=True).select_option(label="Prison")
    expect_count(page, 58)
    page.get_by_label("Status", exact=True).select_option(label="Closed")
    expect_count(page, 0)
    page.get_by_label("Type", exact=True).select_option(index=0)
    expect_count(page, 1)
    expect(names(page)).to_have_text(["St Anne Psychiatric Hospital"])
    page.get_by_label("Status", exact=True).select_option(label="Temporary")
    expect_count(page, 1)
    expect(names(page)).to_have_text(["Harbour Police Station"])
    expect(page.locator("#results tbody .badge")).to_have_text("Temporary")
    assert_not_reloaded(page)


def test_sorting_by_a_column(page, head, registry):
    login(page, head)
    page.goto("/places/")
    capacity = page.locator("#results thead th", has_text="Capacity")
    expect(capacity).not_to_have_attribute("aria-sort", re.compile(".*"))

    capacity.get_by_role("link").click()
    expect(capacity).to_have_attribute("aria-sort", "ascending")
    first_row = page.locator("#results tbody tr").first
    expect(first_row.locator("td").first).to_have_text("Harbour Police Station")
    expect(first_row.locator("td.num").first).to_have_text("20")

    capacity.get_by_role("link").click()
    expect(capacity).to_have_attribute("aria-sort", "descending")
    expect(first_row.locator("td").first).to_have_text("Central Prison")
    expect(first_row.locator("td.num").first).to_have_text("500")
    expect(page).to_have_url(re.compile(r"[?&]sort=-capacity"))


def test_pages_of_fifty_keep_the_search(page, head, registry):
    login(page, head)
    page.goto("/places/")
    pagination = page.get_by_role("navigation", name="Pages")
    expect(pagination).to_contain_text("Page 1 of 2")
    expect(page.locator("#results tbody tr")).to_have_count(50)

    pagination.get_by_role("link", name="Next").click()
    expect(pagination).to_contain_text("Page 2 of 2")
    expect(page.locator("#results tbody tr")).to_have_count(10)
    expect(names(page).last).to_have_text("St Anne Psychiatric Hospital")
    expect(pagination.get_by_role("link", name="Next")).to_have_count(0)
    pagination.get_by_role("link", name="Previous").click()
    expect(pagination).to_contain_text("Page 1 of 2")
    expect(names(page).first).to_have_text("Central Prison")

    page.get_by_label("Search").fill("detention centre")
    expect_count(page, 57)
    pagination.get_by_role("link", name="Next").click()
    expect(pagination).to_contain_text("Page 2 of 2")
    expect_count(page, 57)
    expect(page.locator("#results tbody tr")).to_have_count(7)
    expect(page.get_by_label("Search")).to_have_value("detention centre")


def test_region_finder_never_filters_unasked(page, head, registry):
    """The region finder changes the options offered, never the filter: only choosing a region
    does (an unchosen region was once submitted with every search)."""
    login(page, head)
    page.goto("/places/")
    expect_count(page, 60)
    mark_document(page)
    region = page.get_by_label("Region (and its sub-regions)")

    page.get_by_label("Find a region").press_sequentially("sou")
    expect(region.locator("option")).to_have_count(2)
    expect(region).to_have_value("")
    page.get_by_label("Search").fill("detention")
    expect_count(page, 57)
    expect(page).not_to_have_url(re.compile(r"[?&]region=\d"))

    region.select_option(label="South")
    expect_count(page, 28)
    expect(page).to_have_url(re.compile(r"[?&]region=\d+"))
    expect(region).to_have_value(str(registry.south.pk))

    page.get_by_label("Search").fill("")
    expect_count(page, 29)
    region.select_option(index=0)
    expect_count(page, 60)
    assert_not_reloaded(page)
