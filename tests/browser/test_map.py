"""The map of places: points plotted, and a plain background with a note when tiles fail; many
places grouped in numbered bubbles, marks big enough to tap, and a legend."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible, login
from tests.factories import PlaceFactory, place_type
from vigil.places.models import Place, PlaceStatus

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
    page.locator(".map").click()  # the only place is where the map is centred
    popup = page.locator(".leaflet-popup-content")
    popup.get_by_role("link", name="Harbour Police Station").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Harbour Police Station")


# Each mark on the map: a place (1) or a bubble with its number, and the size of its target.
MARKS = """() => Array.from(document.querySelectorAll(".map .leaflet-marker-icon")).map((mark) => {
  const box = mark.getBoundingClientRect();
  return {
    places: mark.classList.contains("map-cluster") ? Number(mark.textContent) : 1,
    cluster: mark.classList.contains("map-cluster"),
    width: box.width,
    height: box.height,
    label: mark.getAttribute("aria-label"),
  };
})"""


def many_places(body, count: int) -> None:
    """`count` places scattered over about a degree, a tenth of them closed, some temporary."""
    prison = place_type(body)
    Place.objects.bulk_create(
        Place(
            body=body,
            name=f"Mapped Place {number:04d}",
            place_type=prison,
            status={8: PlaceStatus.TEMPORARY, 9: PlaceStatus.CLOSED}.get(
                number % 10, PlaceStatus.OPEN
            ),
            latitude=Decimal("12.000000") + Decimal(number % 97) / 100,
            longitude=Decimal("-1.000000") - Decimal(number % 89) / 100,
        )
        for number in range(count)
    )


def test_six_thousand_places_stay_readable_in_numbered_groups(page, head, body, settings):
    settings.VIGIL_MAP_TILES_URL = ""
    many_places(body, 6000)
    login(page, head)
    page.goto("/places/map/")
    map_element = page.locator('.map[data-ready="true"]')
    expect(map_element).to_have_attribute("data-point-count", "6000")
    marks = page.evaluate(MARKS)
    # Every place is counted once, in a few dozen marks rather than 6,000 dots.
    assert sum(mark["places"] for mark in marks) == 6000
    assert len(marks) <= 300
    assert any(mark["cluster"] for mark in marks)
    assert all(mark["width"] >= 24 and mark["height"] >= 24 for mark in marks)
    biggest = max(marks, key=lambda mark: mark["places"])
    assert biggest["label"] == f"{biggest['places']} places here; select to zoom in"

    # Selecting a group zooms in on it, and its places spread out into smaller groups.
    zoom = int(map_element.get_attribute("data-zoom") or "0")
    page.get_by_role("button", name=biggest["label"]).first.click()
    expect(map_element).not_to_have_attribute("data-zoom", str(zoom))
    assert int(map_element.get_attribute("data-zoom") or "0") > zoom
    after = page.evaluate(MARKS)
    assert max(mark["places"] for mark in after) < biggest["places"]

    # With the keyboard too: Enter on a bubble zooms in, and the map keeps the focus.
    zoom = int(map_element.get_attribute("data-zoom") or "0")
    bubble = page.locator(".map .map-cluster").first
    bubble.focus()
    bubble.press("Enter")
    expect(map_element).not_to_have_attribute("data-zoom", str(zoom))
    expect(page.locator(".map:focus")).to_have_count(1)


def test_a_place_has_a_target_big_enough_to_tap_and_the_legend_says_what_marks_mean(
    page, head, registry, settings
):
    settings.VIGIL_MAP_TILES_URL = ""
    page.set_viewport_size(PHONE)
    login(page, head)
    page.goto("/places/map/")
    expect(page.locator('.map[data-ready="true"]')).to_have_attribute(
        "data-point-count", str(PLOTTED)
    )
    legend = page.locator(".map-legend")
    expect(legend.get_by_role("heading")).to_have_text("Legend")
    expect(legend.locator("li")).to_have_text(
        ["Open", "Temporary", "Closed", re.compile("Several places close together")]
    )
    # The legend's marks are the map's: the same class gives the same shape and colour.
    assert (
        legend.locator(".map-marker.open, .map-marker.temporary, .map-marker.closed").count() == 3
    )
    shapes = page.evaluate(
        """() => ["open", "temporary", "closed"].map((status) => {
          const style = getComputedStyle(
            document.querySelector(`.map-legend .map-marker.${status}`), "::before");
          return [style.backgroundColor, style.borderRadius, style.transform];
        })"""
    )
    assert len({tuple(shape) for shape in shapes}) == 3
    assert len({shape[0] for shape in shapes}) == 3  # three colours
    assert len({(shape[1], shape[2]) for shape in shapes}) == 3  # and three shapes
    for mark in page.evaluate(MARKS):
        assert mark["width"] >= 24 and mark["height"] >= 24, mark
    assert_accessible(page)


def test_places_at_one_spot_are_listed_when_the_map_cannot_part_them(page, head, body, settings):
    settings.VIGIL_MAP_TILES_URL = ""
    for name in ("Twin Tower North Wing", "Twin Tower South Wing"):
        PlaceFactory(body=body, name=name, latitude=Decimal("12.5"), longitude=Decimal("-1.5"))
    login(page, head)
    page.goto("/places/map/")
    expect(page.locator('.map[data-ready="true"]')).to_have_attribute("data-point-count", "2")
    bubble = page.get_by_role("button", name="2 places here; select to zoom in")
    bubble.focus()
    bubble.press("Enter")  # the keyboard reaches a group too
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("2 places at this spot")
    popup.get_by_role("link", name="Twin Tower South Wing").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Twin Tower South Wing")
