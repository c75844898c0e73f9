"""Importing 300 places through the pages, with the background worker and the progress bar."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, assert_accessible, login
from vigil.core import imports
from vigil.core.models import Job, JobStatus, Membership, TabularImport
from vigil.places.models import Place

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 300
BAD_ROWS = 5  # rows whose type of place the body does not have


def places_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            "ID",
            "Name",
            "Type",
            "Region",
            "Address",
            "Capacity",
            "Population",
            "Population date",
            "Status",
        ]
    )
    for number in range(ROWS):
        writer.writerow(
            [
                f"IMP-{number:04d}",
                f"Imported Prison {number:04d}",
                "no-such-type" if number < BAD_ROWS else "prison",
                "North" if number % 2 else "S",
                f"{number} Import Road",
                100 + number,
                90 + number,
                "2024-03-01",
                "open",
            ]
        )
    return buffer.getvalue().encode()


def test_importing_a_file_of_300_places(page, head, registry, task_worker):
    login(page, head)
    page.goto("/places/")
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import places from a file")
    assert_accessible(page)

    page.get_by_label("File").set_input_files(
        files=[{"name": "registry.csv", "mimeType": "text/csv", "buffer": places_csv()}]
    )
    page.get_by_role("button", name="Upload and continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Match the columns")
    expect(page.get_by_text("“registry.csv” has 300 rows.")).to_be_visible()
    # The columns were recognised from their headers.
    expect(page.get_by_label("Import column “Capacity” as")).to_have_value("official_capacity")
    expect(page.get_by_label("Import column “Type” as")).to_have_value("place_type")
    assert_accessible(page)
    page.get_by_role("button", name="Check the rows").click()

    # The type the body does not know is listed with its count; left as it is, its rows are
    # rejected.
    expect(page.get_by_role("heading", level=1)).to_have_text("Match the values")
    unknown = page.get_by_role("row").filter(has_text="no-such-type")
    expect(unknown.get_by_role("cell").first).to_have_text(str(BAD_ROWS))
    assert_accessible(page)
    page.get_by_role("button", name="Check the rows").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check the import")
    cards = page.locator(".cards .card")
    expect(cards.filter(has_text="New").locator(".count")).to_have_text(str(ROWS - BAD_ROWS))
    expect(cards.filter(has_text="With errors").locator(".count")).to_have_text(str(BAD_ROWS))
    expect(page.get_by_role("heading", name=f"{BAD_ROWS} problems found")).to_be_visible()
    group = page.locator(".problem-groups details").first
    expect(group.locator("summary")).to_contain_text(f"{BAD_ROWS} times")
    group.locator("summary").click()
    expect(group.get_by_text("Row 2, column ‘Type’: “no-such-type” is not a type")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Import the valid rows and give me a report of the rest").check()
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    progress = page.locator("#job-progress progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "100", timeout=30_000)
    expect(page.get_by_role("status").filter(has_text="The import is finished.")).to_be_visible()
    expect(page.locator('[data-count="created"]')).to_have_text(str(ROWS - BAD_ROWS))
    expect(page.locator('[data-count="updated"]')).to_have_text("0")
    expect(page.locator('[data-count="rejected"]')).to_have_text(str(BAD_ROWS))
    expect(page.get_by_role("link", name="Download the rejected rows")).to_be_visible()
    assert_accessible(page)
    page.set_viewport_size(PHONE)  # the result, with its long button, on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
    page.set_viewport_size(DESKTOP)

    imp = TabularImport.objects.get()
    assert imp.status == TabularImport.Status.DONE
    assert imp.mode == TabularImport.Mode.VALID_ROWS
    assert Place.objects.filter(external_id__startswith="IMP-").count() == ROWS - BAD_ROWS

    page.get_by_role("link", name="Back to the places").click()
    expect(page.locator("#result-count")).to_contain_text(
        f"{registry.count + ROWS - BAD_ROWS} places"
    )


def test_an_import_left_running_by_a_dead_worker_starts_again(page, head, registry, task_worker):
    """What a worker killed at 39% leaves: the page says the worker stopped and that nothing
    was imported, and "Start again" imports the same file through the running worker."""
    membership = Membership.objects.get(user=head, body=registry.central.body)
    imp = imports.import_upload(
        membership=membership,
        kind="places",
        upload=SimpleUploadedFile("registry.csv", places_csv()),
    )
    silent_since = timezone.now() - datetime.timedelta(minutes=10)
    job = Job.objects.create(
        body=imp.body,
        created_by=head,
        kind=imports.JOB_KIND,
        title="Import of registry.csv",
        status=JobStatus.RUNNING,
        started_at=silent_since,
        heartbeat_at=silent_since,
        progress_done=117,
        progress_total=ROWS,
    )
    TabularImport.objects.filter(pk=imp.pk).update(
        job=job, status=TabularImport.Status.RUNNING, mode=TabularImport.Mode.VALID_ROWS
    )

    login(page, head)
    page.goto(f"/imports/{imp.pk}/")
    result = page.get_by_role("status").filter(has_text="The worker stopped")
    expect(result).to_contain_text("Nothing was imported")
    assert_accessible(page)
    page.get_by_role("button", name="Start again").click()

    expect(page.get_by_role("status").filter(has_text="started again")).to_be_visible()
    expect(page.locator("#job-progress progress")).to_have_attribute("value", "100", timeout=30_000)
    expect(page.get_by_role("status").filter(has_text="The import is finished.")).to_be_visible()
    expect(page.locator('[data-count="created"]')).to_have_text(str(ROWS - BAD_ROWS))
    assert Place.objects.filter(external_id__startswith="IMP-").count() == ROWS - BAD_ROWS
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
