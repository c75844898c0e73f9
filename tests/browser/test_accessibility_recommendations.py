"""axe-core on the pages of recommendations, for the body's staff and for an authority's focal
point in the portal, at desktop width and on a phone (no sideways scroll)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, login
from tests.browser.test_accessibility import PageChecks
from tests.recommendations.conftest import directory, focal, issue, place, writer  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def staff_pages(pages: PageChecks, recommendation, authority) -> None:
    pages.visit("/recommendations/", "Recommendations", "list")
    pages.visit("/recommendations/?status=implemented", "Recommendations", "list, filtered")
    pages.visit(f"/recommendations/{recommendation.pk}/", "Recommendation", "detail")
    pages.visit(f"/recommendations/{recommendation.pk}/edit/", "Edit the recommendation")
    pages.visit(f"/recommendations/{recommendation.pk}/position/", "Record the authority")
    pages.visit(f"/recommendations/{recommendation.pk}/assessment/", "Assess implementation")
    pages.visit("/recommendations/new/", "Issue a recommendation")
    pages.visit("/recommendations/dashboard/", "Follow-up of recommendations")
    pages.visit("/recommendations/authorities/", "Authorities")
    pages.visit(f"/recommendations/authorities/{authority.pk}/", authority.name)
    pages.visit(f"/recommendations/authorities/{authority.pk}/exchange/", "Record an exchange")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_pages_of_recommendations(page, viewport, writer, directory, place, head):  # noqa: F811
    recommendation = issue(writer, directory["service"], places=[place])
    if viewport == "phone":
        page.set_viewport_size(PHONE)
    login(page, head)
    pages = PageChecks(page)
    staff_pages(pages, recommendation, directory["service"])
    pages.visit("/recommendations/settings/", "Recommendation deadlines")
    pages.assert_clean()


def test_the_portal_of_a_focal_point(page, writer, directory, place, focal):  # noqa: F811
    recommendation = issue(writer, directory["service"], places=[place])
    login(page, focal.user)
    pages = PageChecks(page)
    pages.visit("/portal/", "Recommendations to answer", "portal list")
    pages.visit(f"/portal/{recommendation.pk}/", "Recommendation", "portal detail")
    page.set_viewport_size(PHONE)
    pages.visit(f"/portal/{recommendation.pk}/", "Recommendation", "portal detail on a phone")
    pages.assert_clean()
