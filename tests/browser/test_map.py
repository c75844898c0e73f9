"""The map of places: points plotted, and a plain background with a note when tiles fail."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLOTTED = 10  # the registry's places with coordinates


def test_tiles_that_fail_leave_the_points_on_a_plain_background(
    page, head, registry, settings, live_server
):
    # A tile server that answers 404 to everything: the live server itself.
    settings.VIGIL_MAP_TILES_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    login(page, head)
    page.goto("/places/map/")

    map_element = page.locator(".map")
    expect(page.locator('.map[data-ready="true"]')).to_be_visible()
    expect(map_element).to_have_attribute("data-point-count", str(PLOTTED))
    expect(page.get_by_text("10 places on the map. 50 places have no coordinates")).to_be_visible()
    expect(map_element).to_have_attribute("data-tiles-state", "failed")
    expect(page.locator(".map-note")).to_have_text(
        "The map background could not be loaded; places are shown on a plain background."
    )
    assert page.locator(".map .leaflet-tile-loaded").count() == 0
    assert_accessible(page)


def test_without_a_tile_server_the_map_says_so_and_a_point_opens_its_dossier(
    page, head, registry, settings
):
    settings.VIGIL_MAP_TILES_URL = ""
    login(page, head)
    page.goto("/places/map/")
    expect(page.locator('.map[data-ready="true"]')).to_be_visible()
    expect(page.locator(".map")).to_have_attribute("data-tiles-state", "none")
    expect(page.locator(".map-note")).to_have_text(
        "No map background is configured; places are shown on a plain background."
    )

    # The filters apply to the map: one place left, plotted where the map is centred.
    page.get_by_label("Type", exact=True).select_option(label="Police custody")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator('.map[data-ready="true"]')).to_have_attribute("data-point-count", "1")
    page.locator(".map").click()  # points are drawn on a canvas: click where the only one is
    popup = page.locator(".leaflet-popup-content")
    popup.get_by_role("link", name="Harbour Police Station").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Harbour Police Station")
