"""axe-core on every page a person reaches, at desktop width and, for the busiest, on a phone.

Each test walks several pages and reports the problems of all of them at once, so one run shows
everything to fix (and one sign-in serves many pages).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, axe_problems, login
from tests.factories import PASSWORD
from vigil.core.models import Membership, Notification
from vigil.places import services
from vigil.places.models import Place, PossibleDuplicate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class PageChecks:
    """Collects the axe problems (and, on a phone, horizontal overflow) of the pages visited."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: dict[str, list[str]] = {}

    def visit(self, path: str, heading: str, label: str = "") -> None:
        self.page.goto(path)
        self.check(label or path, heading)

    def check(self, label: str, heading: str) -> None:
        """Check the page as it is now, once its main heading shows."""
        expect(self.page.get_by_role("heading", level=1)).to_contain_text(heading)
        problems = axe_problems(self.page)
        viewport = self.page.viewport_size or DESKTOP
        overflow = self.page.evaluate("document.documentElement.scrollWidth") - viewport["width"]
        if overflow > 0:
            problems.append(
                f"the page is {overflow}px wider than the {viewport['width']}px screen: "
                "it scrolls sideways"
            )
        if problems:
            self.problems[f"{label} [{viewport['width']}px, {self.page.url}]"] = problems

    def assert_clean(self) -> None:
        report = "\n".join(
            f"\n{label}:\n  " + "\n  ".join(problems) for label, problems in self.problems.items()
        )
        assert not self.problems, f"Problems on {len(self.problems)} page(s):{report}"


@pytest.fixture
def checks(page) -> Callable[[], PageChecks]:
    return lambda: PageChecks(page)


@pytest.fixture
def full_registry(registry, head, body):
    """The registry with something on every page: a document, a pair to review, a trashed place."""
    membership = Membership.objects.get(user=head, body=body)
    services.place_attach_document(
        membership=membership,
        place=registry.central,
        upload=SimpleUploadedFile("report.pdf", b"%PDF-1.4\n%%EOF\n"),
        title="Report of the 2024 visit",
    )
    PossibleDuplicate.objects.create(
        body=body, place=registry.numbered[0], other=registry.numbered[1], score=0.91
    )
    Place.objects.filter(pk=registry.numbered[-1].pk).update(
        deleted_at=timezone.now(), deleted_by=head
    )
    return registry


def test_pages_before_signing_in(page, head):
    pages = PageChecks(page)
    pages.visit("/login/", "Sign in to Vigil")
    page.get_by_label("Username").fill("head")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    pages.check("sign-in with an error", "Sign in to Vigil")
    pages.visit("/no-such-page/", "This page does not exist")
    pages.assert_clean()


def test_pages_of_the_registry(page, head, full_registry):
    central = full_registry.central
    login(page, head)
    pages = PageChecks(page)
    pages.visit("/", "National Preventive Mechanism", "overview")
    pages.visit("/places/", "Places of deprivation of liberty", "list")
    pages.visit("/places/?q=nothing+like+this", "Places of deprivation of liberty", "empty list")
    pages.visit(f"/places/{central.pk}/", "Central Prison", "dossier")
    page.get_by_role("button", name="Show the confidential notes").click()
    expect(page.locator("#confidential-notes")).to_contain_text("recorded in the audit trail")
    pages.check("dossier with the notes shown", "Central Prison")
    pages.visit(f"/places/{central.pk}/edit/", "Edit Central Prison", "form")
    pages.visit("/places/new/", "Add a place", "new place")
    page.get_by_role("button", name="Add the place").click()
    expect(page.get_by_role("alert")).to_be_visible()
    pages.check("form with errors", "Add a place")
    other = full_registry.harbour
    pages.visit(f"/places/{central.pk}/merge/?other={other.pk}", "Merge another place", "merge")
    pages.visit("/places/map/", "Map of places", "map")
    expect(page.locator('.map[data-ready="true"]')).to_be_visible()
    pages.check("map, plotted", "Map of places")
    pages.visit("/places/trash/", "Places in the trash", "trash")
    pages.visit("/places/duplicates/", "Possible duplicates", "duplicates")
    pages.visit("/places/regions/", "Regions and administrative units", "regions")
    pages.visit("/places/999999/", "This page does not exist", "404")
    pages.assert_clean()


def test_pages_of_people_settings_and_audit(page, head, monitor, body):
    login(page, head)
    pages = PageChecks(page)
    pages.visit("/users/", "Users and roles")
    pages.visit("/users/add/", "Add a person to this body")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    pages.check("add a person, with errors", "Add a person to this body")
    membership = Membership.objects.get(user=monitor, body=body)
    pages.visit(f"/users/{membership.pk}/", "Role of")
    pages.visit("/settings/", "Settings of")
    pages.visit("/taxonomy/", "Themes, groups and types of place")
    pages.visit("/audit/", "Audit trail")
    pages.visit("/audit/?action=nothing-like-this", "Audit trail", "audit, filtered to nothing")
    pages.visit("/account/", "Your account")
    pages.visit("/account/password/", "Change your password")
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_be_visible()
    pages.check("password change, with errors", "Change your password")
    pages.visit("/account/two-factor/", "Set up two-factor sign-in")
    head_membership = Membership.objects.get(user=head, body=body)
    for number in range(30):
        Notification.objects.create(
            recipient=head_membership,
            kind="core.import.finished",
            text=f"Your import of “places-{number}.csv” finished: 3 records created.",
            url="/places/",
            read_at=timezone.now() if number % 2 else None,
        )
    pages.visit("/notifications/", "Notifications", "notifications, some unread, two pages")
    pages.assert_clean()


def test_pages_of_a_body_with_nothing_yet(page, outsider):
    login(page, outsider)
    pages = PageChecks(page)
    pages.visit("/", "Another Mechanism", "overview")
    pages.visit("/places/", "Places of deprivation of liberty", "no places yet")
    expect(page.get_by_role("heading", name="No places yet")).to_be_visible()
    pages.visit("/places/trash/", "Places in the trash", "empty trash")
    pages.visit("/places/duplicates/", "Possible duplicates", "nothing to review")
    pages.visit("/places/regions/", "Regions and administrative units", "no regions")
    pages.visit("/notifications/", "Notifications", "no notifications")
    pages.assert_clean()


def test_the_busiest_pages_on_a_phone(page, head, full_registry):
    page.set_viewport_size(PHONE)
    central = full_registry.central
    login(page, head)
    pages = PageChecks(page)
    pages.visit("/", "National Preventive Mechanism", "overview")
    pages.visit("/places/", "Places of deprivation of liberty", "list")
    pages.visit(f"/places/{central.pk}/", "Central Prison", "dossier")
    pages.visit(f"/places/{central.pk}/edit/", "Edit Central Prison", "form")
    page.locator("#id_name").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert")).to_be_visible()
    pages.check("form with errors", "Edit Central Prison")
    pages.visit("/users/", "Users and roles")
    pages.visit("/audit/", "Audit trail")
    membership = Membership.objects.get(user=head, body=full_registry.central.body)
    Notification.objects.create(
        recipient=membership,
        kind="core.import.finished",
        text="Your import of “a-file-with-a-rather-long-name-2024-north.csv” finished: "
        "120 records created, 4 records updated, 3 rows rejected.",
        url="/places/",
    )
    pages.visit("/notifications/", "Notifications")
    pages.assert_clean()
