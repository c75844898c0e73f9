"""Importing places from CSV/XLSX: the pages end to end, bad input, modes, idempotence, audit."""

from __future__ import annotations

import csv
import io
import random
import re

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tests.factories import PlaceFactory, RegionFactory, place_type
from vigil.core import imports
from vigil.core.models import AuditEntry, Membership, TabularImport, TaxonomyTerm
from vigil.places.models import Place, PlaceStatus, PossibleDuplicate
from vigil.places.queries import search_places

HEADERS = [
    "ID",
    "Name",
    "Type",
    "Region",
    "Address",
    "Capacity",
    "Population",
    "Population date",
    "Status",
    "Groups",
]


def rows_csv(rows, headers=HEADERS, delimiter=",", encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def rows_xlsx(rows, headers=HEADERS) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def north(body):
    return RegionFactory(body=body, name="North", code="N")


@pytest.fixture
def sample_rows(north):
    return [
        [
            "P-1",
            "Central Prison",
            "prison",
            "North",
            "1 Main Street",
            "500",
            "612",
            "2024-01-31",
            "open",
            "women; children",
        ],
        ["P-2", "Harbour Police Station", "Police custody", "N", "2 Quay", "20", "", "", "", ""],
        [
            "P-3",
            "St Anne Psychiatric Hospital",
            "psychiatric-hospital",
            "",
            "3 Hill Road",
            "",
            "",
            "",
            "Temporary",
            "Persons with disabilities",
        ],
    ]


def upload(client, data: bytes, name: str = "places.csv", kind: str = "places"):
    return client.post(
        reverse("import_upload", args=[kind]), {"file": SimpleUploadedFile(name, data)}
    )


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def import_through_pages(client, data: bytes, name: str = "places.csv", mode: str = "all"):
    """Upload, accept the guessed mapping, check, start; returns the import (not yet run)."""
    response = upload(client, data, name)
    assert response.status_code == 302, response.content.decode()[:2000]
    imp = TabularImport.objects.latest("pk")
    assert response["Location"] == reverse("import_mapping", args=[imp.pk])
    page = client.get(reverse("import_mapping", args=[imp.pk]))
    assert page.status_code == 200
    mapping = {f"column_{column}": field for column, field in imp.mapping.items()}
    response = client.post(reverse("import_mapping", args=[imp.pk]), mapping)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == reverse("import_preview", args=[imp.pk])
    preview = client.get(reverse("import_preview", args=[imp.pk]))
    assert preview.status_code == 200
    response = client.post(reverse("import_preview", args=[imp.pk]), {"mode": mode})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == reverse("import_detail", args=[imp.pk])
    imp.refresh_from_db()
    return imp


def run_import(membership: Membership, data: bytes, name="places.csv", mode="all", mapping=None):
    """The same steps through the services, run in-process."""
    imp = imports.import_upload(
        membership=membership,
        kind="places",
        upload=SimpleUploadedFile(name, data),
    )
    if mapping is not None:
        imports.import_set_mapping(membership=membership, imp=imp, mapping=mapping)
    imp = imports.import_start(membership=membership, imp=imp, mode=mode)
    from vigil.core.tasks import run_job

    run_job.call(imp.job_id)
    imp.refresh_from_db()
    return imp


@pytest.fixture
def head_membership(head, body):
    return Membership.objects.get(user=head, body=body)


# --- The whole journey through the pages ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_full_import_through_the_pages(fmt, client_for, head, body, sample_rows):
    client = client_for(head)
    data = rows_csv(sample_rows) if fmt == "csv" else rows_xlsx(sample_rows)
    imp = import_through_pages(client, data, name=f"places.{fmt}")
    assert imp.status == TabularImport.Status.QUEUED
    page = client.get(reverse("import_detail", args=[imp.pk]))
    assert 'hx-trigger="every 1s"' in page.content.decode()

    run_worker()

    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE, imp.summary
    assert Place.objects.filter(body=body).count() == 3
    prison = Place.objects.get(external_id="P-1")
    assert prison.name == "Central Prison"
    assert prison.place_type == place_type(body, "prison")
    assert prison.region.name == "North"
    assert prison.official_capacity == 500
    assert prison.population == 612
    assert sorted(g.code for g in prison.population_groups.all()) == ["children", "women"]
    assert prison.search_text
    assert prison.confidential_notes == ""
    assert list(search_places(Place.objects.all(), "central prison")) == [prison]
    station = Place.objects.get(external_id="P-2")
    assert station.place_type.code == "police-custody"
    assert station.status == PlaceStatus.OPEN
    hospital = Place.objects.get(external_id="P-3")
    assert hospital.status == PlaceStatus.TEMPORARY
    assert [g.code for g in hospital.population_groups.all()] == ["persons-with-disabilities"]

    result = client.get(reverse("import_detail", args=[imp.pk]))
    html = result.content.decode()
    assert 'data-count="created">3<' in html
    assert 'data-count="updated">0<' in html
    assert 'data-count="rejected">0<' in html
    assert "hx-trigger" not in html
    assert reverse("places:list") in html
    entry = AuditEntry.objects.get(action="core.import.finish", object_id=str(imp.pk))
    assert entry.changes["created"] == [None, 3]
    assert (
        AuditEntry.objects.filter(action="places.place.create", object_type="places.place").count()
        == 3
    )
    # A created place's entry lists what the file gave it, not every empty field.
    created = AuditEntry.objects.get(action="places.place.create", object_id=str(station.pk))
    assert created.changes["name"] == [None, station.name]
    assert all(value not in (None, "", []) for _old, value in created.changes.values())
    assert "former_names" not in created.changes and "notes" not in created.changes


@pytest.mark.django_db
def test_mapping_page_shows_guesses_and_samples(client_for, analyst, sample_rows):
    client = client_for(analyst)
    upload(client, rows_csv(sample_rows))
    imp = TabularImport.objects.get()
    html = client.get(reverse("import_mapping", args=[imp.pk])).content.decode()
    assert re.search(r'name="column_1".*?<option value="name" selected', html, re.S)
    assert "Harbour Police Station" in html
    assert imp.mapping == {
        "0": "external_id",
        "1": "name",
        "2": "place_type",
        "3": "region",
        "4": "address",
        "5": "official_capacity",
        "6": "population",
        "7": "population_date",
        "8": "status",
        "9": "population_groups",
    }


@pytest.mark.django_db
def test_mapping_needs_required_fields_and_each_field_once(client_for, head, sample_rows):
    client = client_for(head)
    upload(client, rows_csv(sample_rows))
    imp = TabularImport.objects.get()
    choices = {f"column_{column}": field for column, field in imp.mapping.items()}
    choices["column_2"] = ""  # no type
    choices["column_4"] = "name"  # the address column as a second name
    response = client.post(reverse("import_mapping", args=[imp.pk]), choices)
    assert response.status_code == 400
    html = response.content.decode()
    assert "“Name” is chosen for several columns (‘Name’, ‘Address’)" in html
    assert "Choose a column for the required field “Type”." in html
    # What the person chose is shown again.
    assert re.search(r'name="column_4".*?<option value="name" selected', html, re.S)
    imp.refresh_from_db()
    assert imp.mapping["2"] == "place_type"


@pytest.mark.django_db
def test_preview_counts_rows_and_lists_errors(client_for, head, body, sample_rows):
    PlaceFactory(body=body, external_id="P-1", name="Old name")
    sample_rows[1][5] = "twenty"
    client = client_for(head)
    upload(client, rows_csv(sample_rows))
    imp = TabularImport.objects.get()
    html = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    imp.refresh_from_db()
    assert imp.summary["counts"] == {
        "rows": 3,
        "create": 1,
        "update": 1,
        "unchanged": 0,
        "invalid": 1,
    }
    assert "Row 3, column ‘Capacity’: “twenty” must be a whole number" in html
    assert "Central Prison" in html
    assert 'value="all"' in html and "checked" in html
    assert "Import the valid rows and give me a report of the rest" in html


@pytest.mark.django_db
def test_template_lists_the_expected_headers(client_for, head):
    response = client_for(head).get(reverse("import_template", args=["places"]))
    assert response.status_code == 200
    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("External identifier,Name,Type,")
    upload_page = client_for(head).get(reverse("import_upload", args=["places"])).content.decode()
    assert 'accept=".csv,.xlsx"' in upload_page
    assert reverse("import_template", args=["places"]) in upload_page


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("places.pdf", b"%PDF-1.4", "“places.pdf” is not a supported file type."),
        ("places.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 20, "old Excel 97-2003"),
        ("places.csv", b"", "The file “places.csv” is empty."),
        ("places.csv", b"Name,Type\r\n", "“places.csv” has a header row but no data rows."),
        (
            "places.xlsx",
            b"PK\x03\x04 not really a zip",
            "“places.xlsx” is not a valid Excel workbook.",
        ),
        ("places.csv", b'Name,Type\r\n"Unclosed,prison\r\n', "could not be read as CSV"),
        ("places.csv", b"Name,Type\r\nA,prison,extra\r\n", "Row 2 of “places.csv” has 3 cells"),
        ("places.csv", "Name,Type\r\nA,prison\r\n".encode("utf-16"), "encoded as UTF-16"),
    ],
)
def test_bad_files_are_refused_with_a_specific_message(client_for, head, name, data, message):
    response = upload(client_for(head), data, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TabularImport.objects.exists()
    assert Place.objects.count() == 0


@pytest.mark.django_db
def test_oversized_file_is_refused(client_for, head, settings, sample_rows):
    settings.VIGIL_MAX_IMPORT_BYTES = 100
    response = upload(client_for(head), rows_csv(sample_rows))
    assert response.status_code == 400
    assert "is too large" in response.content.decode()
    assert "the limit is 1 KB" in response.content.decode()
    assert not TabularImport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("encoding", "delimiter", "bom"),
    [("utf-8", ",", False), ("utf-8", ";", True), ("latin-1", ";", False), ("cp1252", ",", False)],
)
def test_encodings_and_separators(head_membership, body, encoding, delimiter, bom):
    data = rows_csv(
        [["", "Comisaría Nº 5 – Sévres", "Police custody", "", "Rue de l’Été", "", "", "", "", ""]],
        delimiter=delimiter,
        encoding=encoding if encoding != "latin-1" else "cp1252",
    )
    if encoding == "latin-1":
        data = rows_csv(
            [["", "Comisaría Sévres", "Police custody", "", "Rue de l'Été", "", "", "", "", ""]],
            delimiter=delimiter,
            encoding="latin-1",
        )
    if bom:
        data = b"\xef\xbb\xbf" + data
    imp = run_import(head_membership, data)
    assert imp.status == TabularImport.Status.DONE, imp.errors
    place = Place.objects.get(body=body)
    assert place.name.startswith("Comisaría")
    assert "Été" in place.address


@pytest.mark.django_db
def test_every_row_error_names_row_column_and_reason(head_membership, body, north):
    rows = [
        ["", "", "prison", "", "", "", "", "", "", ""],
        ["", "A", "castle", "", "", "", "", "", "", ""],
        ["", "B", "prison", "Atlantis", "", "", "", "", "", ""],
        ["", "C", "prison", "", "", "-3", "", "", "", ""],
        ["", "D", "prison", "", "", "", "40", "", "", ""],
        ["", "E", "prison", "", "", "", "40", "31/02/2024", "", ""],
        ["", "F", "prison", "", "", "", "", "", "demolished", ""],
        # A closed place may have no closing date (lists often say that, not when).
        ["", "G", "prison", "", "", "", "", "", "closed", ""],
        ["", "H", "prison", "", "", "", "", "", "", "giants"],
    ]
    imp = run_import(head_membership, rows_csv(rows))
    assert imp.status == TabularImport.Status.REJECTED
    texts = [imports.format_error(error) for error in imp.errors]
    assert texts == [
        "Row 2, column ‘Name’: is empty; every place needs a name",
        "Row 3, column ‘Type’: “castle” is not a type of place of your body",
        "Row 4, column ‘Region’: “Atlantis” is not a region of your body",
        "Row 5, column ‘Capacity’: “-3” must not be negative",
        "Row 6, columns ‘Population date’, ‘Population’: Give the date the population was counted.",
        "Row 7, column ‘Population date’: “31/02/2024” must be a date such as 2024-03-31 or "
        "31/03/2024",
        "Row 8, column ‘Status’: “demolished” is not a status; use “Open”, “Temporary”, “Closed”",
        "Row 10, column ‘Groups’: “giants” is not a population group of your body",
    ]
    assert Place.objects.count() == 0


@pytest.mark.django_db
def test_coordinates_dates_and_region_paths(head_membership, body):
    north = RegionFactory(body=body, name="North")
    district = RegionFactory(body=body, name="Lakes", parent=north, level=2)
    south = RegionFactory(body=body, name="South")
    RegionFactory(body=body, name="Lakes", parent=south, level=2)
    headers = [
        "Name",
        "Type",
        "Region",
        "Latitude",
        "Longitude",
        "Opened on",
        "Closed on",
        "Status",
        "Other names",
        "Notes",
    ]
    rows = [
        [
            "A",
            "prison",
            "North > Lakes",
            "12,5",
            "-8.25",
            "01/02/2001",
            "2020-12-31",
            "Closed",
            "Old A; A prison",
            "note",
        ],
        ["B", "prison", "Lakes", "", "", "", "", "", "", ""],
        ["C", "prison", "North", "95", "10", "", "", "", "", ""],
        ["D", "prison", "North", "10", "", "", "", "", "", ""],
        ["E", "prison", "North", "", "", "2020-01-01", "2019-01-01", "", "", ""],
    ]
    imp = run_import(head_membership, rows_csv(rows, headers), mode="valid")
    texts = [imports.format_error(error) for error in imp.errors]
    assert texts == [
        "Row 3, column ‘Region’: “Lakes” matches several regions; give the path, as "
        "“Region > District”",
        "Row 4, column ‘Latitude’: “95” must be between -90 and 90",
        "Row 5, columns ‘Latitude’, ‘Longitude’: Give both latitude and longitude, or neither.",
        "Row 6, columns ‘Closed on’, ‘Opened on’: The closing date is before the opening date. "
        "(“2019-01-01”)",
    ]
    place = Place.objects.get(name="A")
    assert place.region == district
    assert str(place.latitude) == "12.500000"
    assert place.opened_on.isoformat() == "2001-02-01"
    assert place.status == PlaceStatus.CLOSED
    assert place.alias_list == ["Old A", "A prison"]


@pytest.mark.django_db
def test_type_and_status_match_labels_in_any_language(head_membership, body):
    with translation.override("fr"):
        french_type = translation.gettext("Police custody")
        french_status = str(PlaceStatus.CLOSED.label)
    headers = ["Name", "Type", "Status", "Closed on"]
    rows = [
        ["A", "PRISON", "Open", ""],
        ["B", french_type.upper(), french_status.lower(), "2020-01-01"],
        ["C", "Psychiatric hospital", "temporary", ""],
    ]
    imp = run_import(head_membership, rows_csv(rows, headers))
    assert imp.status == TabularImport.Status.DONE, imp.errors
    assert Place.objects.get(name="B").place_type.code == "police-custody"
    assert Place.objects.get(name="B").status == PlaceStatus.CLOSED
    assert Place.objects.get(name="C").place_type.code == "psychiatric-hospital"


# --- Modes ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_all_or_nothing_imports_nothing_when_one_row_fails(head_membership, sample_rows):
    sample_rows[2][5] = "lots"
    imp = run_import(head_membership, rows_csv(sample_rows))
    assert imp.status == TabularImport.Status.REJECTED
    assert Place.objects.count() == 0
    assert imp.summary["result"]["rejected"] == 1
    assert imp.job.status == "succeeded"


@pytest.mark.django_db
def test_valid_rows_mode_imports_the_rest_and_reports_rejected_rows(
    client_for, head, head_membership, sample_rows
):
    sample_rows[2][5] = "lots"
    imp = run_import(head_membership, rows_csv(sample_rows), mode="valid")
    assert imp.status == TabularImport.Status.DONE
    assert Place.objects.count() == 2
    assert imp.summary["result"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "duplicates": 0,
    }
    client = client_for(head)
    html = client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert reverse("import_rejected", args=[imp.pk]) in html
    response = client.get(reverse("import_rejected", args=[imp.pk]))
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == [*HEADERS, "Row", "Problem"]
    assert len(lines) == 2
    assert lines[1][1] == "St Anne Psychiatric Hospital"
    assert lines[1][-2:] == ["4", "Capacity: must be a whole number"]


# --- Idempotence and matching --------------------------------------------------------------


@pytest.mark.django_db
def test_reimport_updates_by_external_id_without_duplicating(head_membership, body, sample_rows):
    run_import(head_membership, rows_csv(sample_rows))
    assert Place.objects.count() == 3
    sample_rows[0][5] = "550"
    sample_rows[0][1] = "Central Prison of the North"
    imp = run_import(head_membership, rows_csv(sample_rows))
    assert imp.summary["result"]["created"] == 0
    assert imp.summary["result"]["updated"] == 1
    assert imp.summary["result"]["unchanged"] == 2
    assert Place.objects.count() == 3
    prison = Place.objects.get(external_id="P-1")
    assert prison.official_capacity == 550
    assert prison.name == "Central Prison of the North"
    assert "north" in prison.search_text
    update = AuditEntry.objects.get(action="places.place.update", object_id=str(prison.pk))
    assert update.changes["official_capacity"] == [500, 550]
    assert update.changes["name"] == ["Central Prison", "Central Prison of the North"]
    assert "region" not in update.changes
    assert update.actor == head_membership.user


@pytest.mark.django_db
def test_reimport_matches_on_name_and_address_without_identifier(head_membership, sample_rows):
    for row in sample_rows:
        row[0] = ""
    run_import(head_membership, rows_csv(sample_rows))
    sample_rows[1][1] = "HARBOUR  police station"  # same place, other spelling
    sample_rows[1][5] = "25"
    imp = run_import(head_membership, rows_csv(sample_rows))
    assert imp.summary["result"]["created"] == 0
    assert imp.summary["result"]["updated"] == 1
    assert Place.objects.count() == 3
    assert Place.objects.get(address="2 Quay").official_capacity == 25


@pytest.mark.django_db
def test_a_blank_identifier_does_not_wipe_the_matched_one(head_membership, body):
    place = PlaceFactory(body=body, external_id="K-7", name="Fort", address="1 Hill")
    headers = ["ID", "Name", "Type", "Address", "Capacity"]
    imp = run_import(head_membership, rows_csv([["", "Fort", "prison", "1 Hill", "40"]], headers))
    assert imp.summary["result"]["updated"] == 1
    place.refresh_from_db()
    assert place.external_id == "K-7"
    assert place.official_capacity == 40


@pytest.mark.django_db
def test_an_updated_value_appears_in_the_place_history(client_for, head, head_membership, body):
    place = PlaceFactory(body=body, external_id="X-9", name="Remand Centre", official_capacity=80)
    headers = ["External identifier", "Name", "Type", "Capacity"]
    run_import(head_membership, rows_csv([["X-9", "Remand Centre", "prison", "95"]], headers))
    place.refresh_from_db()
    assert place.official_capacity == 95
    entry = AuditEntry.objects.get(object_type="places.place", object_id=str(place.pk))
    assert entry.action == "places.place.update"
    assert entry.changes["official_capacity"] == [80, 95]
    html = client_for(head).get(reverse("places:detail", args=[place.pk])).content.decode()
    assert "95" in html


@pytest.mark.django_db
def test_rows_repeating_the_same_place_are_errors(head_membership, body):
    headers = ["ID", "Name", "Type", "Address"]
    rows = [
        ["A-1", "First", "prison", "x"],
        ["A-1", "First again", "prison", "y"],
        ["", "Same", "prison", "Road 1"],
        ["", "same", "prison", "road 1"],
    ]
    # The identifier repeats, so it is not guessed: it is chosen.
    mapping = {"0": "external_id", "1": "name", "2": "place_type", "3": "address"}
    imp = run_import(head_membership, rows_csv(rows, headers), mode="valid", mapping=mapping)
    texts = [imports.format_error(error) for error in imp.errors]
    assert texts == [
        "Row 3, column ‘ID’: “A-1” repeats row 2: both describe the same place",
        "Row 5, column ‘Name’: repeats row 4: both describe the same place",
    ]
    assert Place.objects.count() == 2


@pytest.mark.django_db
def test_similar_name_in_same_region_is_flagged(client_for, head, head_membership, body, north):
    existing = PlaceFactory(body=body, name="Central Prison of Northtown", region=north)
    headers = ["Name", "Type", "Region", "Address"]
    imp = run_import(
        head_membership,
        rows_csv([["Central Prison of Northtowne", "prison", "North", "z"]], headers),
    )
    assert imp.summary["result"]["duplicates"] == 1
    new = Place.objects.get(name="Central Prison of Northtowne")
    flag = PossibleDuplicate.objects.get()
    assert {flag.place_id, flag.other_id} == {existing.pk, new.pk}
    html = client_for(head).get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert reverse("places:duplicates") in html


@pytest.mark.django_db
def test_places_of_other_bodies_are_never_matched_or_used(head_membership, body, other_body):
    PlaceFactory(body=other_body, external_id="P-1", name="Central Prison")
    RegionFactory(body=other_body, name="West")
    headers = ["ID", "Name", "Type", "Region"]
    imp = run_import(
        head_membership,
        rows_csv(
            [["P-1", "Central Prison", "prison", ""], ["P-2", "X", "prison", "West"]], headers
        ),
        mode="valid",
    )
    assert imp.summary["result"]["created"] == 1
    assert [imports.format_error(e) for e in imp.errors] == [
        "Row 3, column ‘Region’: “West” is not a region of your body"
    ]
    assert Place.objects.filter(body=other_body).count() == 1


# --- Permissions ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("head", 200), ("analyst", 200), ("monitor", 403)])
def test_who_may_import(request, client_for, role, status):
    user = request.getfixturevalue(role)
    assert client_for(user).get(reverse("import_upload", args=["places"])).status_code == status


@pytest.mark.django_db
def test_monitor_cannot_upload_or_see_an_import(client_for, monitor, head_membership, sample_rows):
    imp = run_import(head_membership, rows_csv(sample_rows))
    client = client_for(monitor)
    assert upload(client, rows_csv(sample_rows)).status_code == 403
    assert client.get(reverse("import_detail", args=[imp.pk])).status_code == 403
    assert TabularImport.objects.count() == 1


@pytest.mark.django_db
def test_another_body_sees_no_import(client_for, outsider, head_membership, sample_rows):
    imp = run_import(head_membership, rows_csv(sample_rows))
    client = client_for(outsider)
    for name in [
        "import_detail",
        "import_mapping",
        "import_preview",
        "import_progress",
        "import_rejected",
    ]:
        assert client.get(reverse(name, args=[imp.pk])).status_code == 404, name
    response = client.post(reverse("import_preview", args=[imp.pk]), {"mode": "valid"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_focal_point_does_not_know_imports_exist(client_for, focal_point):
    response = client_for(focal_point).get(reverse("import_upload", args=["places"]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_unknown_kind_is_404(client_for, head):
    assert client_for(head).get(reverse("import_upload", args=["unicorns"])).status_code == 404


# --- Progress ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_progress_partial_shows_percentage_and_stops_polling(
    client_for, head, head_membership, sample_rows, django_capture_on_commit_callbacks
):
    imp = imports.import_upload(
        membership=head_membership,
        kind="places",
        upload=SimpleUploadedFile("p.csv", rows_csv(sample_rows)),
    )
    with django_capture_on_commit_callbacks(execute=False):
        imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    imports.report_progress(imp.job, 150, 600)
    client = client_for(head)
    html = client.get(reverse("import_progress", args=[imp.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert 'aria-valuenow="25"' in html
    assert "25%" in html
    from vigil.core.tasks import run_job

    run_job.call(imp.job_id)
    html = client.get(reverse("import_progress", args=[imp.pk])).content.decode()
    assert "hx-trigger" not in html
    assert 'aria-valuenow="100"' in html


@pytest.mark.django_db
def test_an_import_cannot_be_started_twice(head_membership, sample_rows):
    imp = run_import(head_membership, rows_csv(sample_rows))
    with pytest.raises(Exception, match="already started"):
        imports.import_start(membership=head_membership, imp=imp, mode="all")
    assert Place.objects.count() == 3


@pytest.mark.django_db
def test_unused_term_kinds_are_ignored(head_membership, body):
    # A theme named like a place type must not be taken for one.
    TaxonomyTerm.objects.create(body=body, kind="theme", code="castle", label="Castle")
    imp = run_import(head_membership, rows_csv([["", "A", "castle", "", "", "", "", "", "", ""]]))
    assert imp.status == TabularImport.Status.REJECTED


# --- Volume --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_five_thousand_rows_import_without_a_query_per_row(head_membership, body):
    """The pipeline itself: no per-row queries. Places have no region here, because the
    duplicate check (places.services.flag_possible_duplicates) compares every new place with
    every place of its region and is measured on its own."""
    syllables = ["ka", "lo", "mi", "ren", "sa", "tor", "vu", "bel", "dan", "gri", "hol", "zen"]
    kinds = ["Prison", "Police Station", "Remand Centre", "Psychiatric Hospital", "Care Home"]
    generator = random.Random(5)

    def town() -> str:
        return "".join(generator.choice(syllables) for _n in range(3)).title()

    rows = [
        [
            f"B-{n}",
            f"{town()} {kinds[n % 5]}",
            "prison",
            "",
            f"{n} {town()} Road",
            str(100 + n),
            str(n % 90),
            "2024-01-01",
            "open",
            "women; children",
        ]
        for n in range(5000)
    ]
    with CaptureQueriesContext(connection) as first:
        imp = run_import(head_membership, rows_csv(rows))
    assert imp.status == TabularImport.Status.DONE
    assert Place.objects.filter(body=body).count() == 5000
    for row in rows[::2]:
        row[5] = str(int(row[5]) + 1)
    with CaptureQueriesContext(connection) as second:
        imp = run_import(head_membership, rows_csv(rows))
    assert imp.summary["result"]["updated"] == 2500
    assert Place.objects.filter(body=body).count() == 5000
    # Speed is measured in bench/places.py; here, the number of queries must not follow the
    # number of rows (a query per row would be 5,000 or more).
    print(f"\n5000 rows: {len(first)} queries to create, {len(second)} to update")
    assert len(first) < 600  # SQLite inserts in batches of its 999 parameters
    assert len(second) < 600


@pytest.mark.django_db
def test_validation_makes_no_query_per_row(
    head_membership, body, north, django_assert_max_num_queries
):
    PlaceFactory(body=body, external_id="P-0", name="Existing")
    headers = ["ID", "Name", "Type", "Region", "Groups", "Capacity"]

    def rows(count):
        return [[f"P-{n}", f"Place {n}", "prison", "North", "women", str(n)] for n in range(count)]

    small = imports.import_upload(
        membership=head_membership,
        kind="places",
        upload=SimpleUploadedFile("s.csv", rows_csv(rows(3), headers)),
    )
    large = imports.import_upload(
        membership=head_membership,
        kind="places",
        upload=SimpleUploadedFile("l.csv", rows_csv(rows(400), headers)),
    )
    # The rows, the body's terms, regions, places, their groups and identifiers, what the body
    # said the file's values mean; the state of the records (4) and of the choices, for the
    # commit.
    with django_assert_max_num_queries(12) as small_queries:
        imports.import_validate(small)
    with django_assert_max_num_queries(len(small_queries)):
        summary = imports.import_validate(large)
    assert summary["counts"]["update"] == 1
    assert summary["counts"]["create"] == 399


@pytest.mark.django_db
def test_xlsx_dates_and_numbers_typed_as_cells(head_membership, body):
    import datetime as dt

    headers = ["Name", "Type", "Capacity", "Population", "Population date", "Latitude", "Longitude"]
    data = rows_xlsx([["Typed", "prison", 500.0, 12, dt.datetime(2024, 3, 31), 12.25, -3]], headers)
    imp = run_import(head_membership, data, name="typed.xlsx")
    assert imp.status == TabularImport.Status.DONE, imp.errors
    place = Place.objects.get(name="Typed")
    assert place.official_capacity == 500
    assert place.population_date.isoformat() == "2024-03-31"
    assert str(place.longitude) == "-3.000000"


@pytest.mark.django_db
def test_records_changed_during_the_check_are_matched_again(
    head_membership, body, sample_rows, monkeypatch
):
    """Another import (or a person) creating the same place while this one checks its rows
    must not lead to a duplicate: the job notices and checks the rows again before writing."""
    original = imports._validate_table
    calls = []

    def validate_then_someone_else_writes(*args, **kwargs):
        validation = original(*args, **kwargs)
        if not calls:
            PlaceFactory(body=body, external_id="P-1", name="Central Prison")
        calls.append(1)
        return validation

    monkeypatch.setattr(imports, "_validate_table", validate_then_someone_else_writes)
    imp = run_import(head_membership, rows_csv(sample_rows))
    assert len(calls) == 2
    assert imp.summary["result"]["created"] == 2
    assert imp.summary["result"]["updated"] == 1
    assert Place.objects.filter(body=body, external_id="P-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_checked_in_the_background(
    client_for, head, body, sample_rows, monkeypatch
):
    monkeypatch.setattr(imports, "SYNC_CHECK_ROWS", 2)
    client = client_for(head)
    upload(client, rows_csv(sample_rows))
    imp = TabularImport.objects.get()
    mapping = {f"column_{column}": field for column, field in imp.mapping.items()}
    response = client.post(reverse("import_mapping", args=[imp.pk]), mapping)
    assert response["Location"] == reverse("import_preview", args=[imp.pk])

    page = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert "Checking the rows" in page
    assert 'hx-trigger="every 1s"' in page
    # Starting the import before the check is done is refused.
    response = client.post(reverse("import_preview", args=[imp.pk]), {"mode": "all"})
    assert "Checking the rows" in response.content.decode()
    imp.refresh_from_db()
    assert imp.job.kind == imports.CHECK_JOB_KIND
    with pytest.raises(Exception, match="still being checked"):
        imports.import_start(membership=Membership.objects.get(user=head), imp=imp, mode="all")

    run_worker()

    progress = client.get(reverse("import_progress", args=[imp.pk]))
    assert progress["HX-Redirect"] == reverse("import_preview", args=[imp.pk])
    assert "hx-trigger" not in progress.content.decode()
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.VALIDATED
    assert imp.summary["counts"]["create"] == 3
    preview = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert "Check the import" in preview
    response = client.post(reverse("import_preview", args=[imp.pk]), {"mode": "all"})
    assert response["Location"] == reverse("import_detail", args=[imp.pk])
    run_worker()
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert Place.objects.filter(body=body).count() == 3


STEPS = ["Upload", "Columns", "Values", "Check", "Import", "Result"]


def import_steps(html: str) -> tuple[str, list[str]]:
    """The current step of the wizard's step list on a page, and the steps marked done."""
    [nav] = re.findall(r'<nav class="steps" aria-label="Steps of the import">.*?</nav>', html, re.S)
    items = re.findall(r"<li([^>]*)><span>([^<]+)</span>", nav)
    assert [label for _attributes, label in items] == STEPS
    [current] = [label for attributes, label in items if 'aria-current="step"' in attributes]
    done = [label for attributes, label in items if 'class="done"' in attributes]
    return current, done


@pytest.mark.django_db(transaction=True)
def test_the_import_wizard_shows_its_steps_on_every_step(client_for, head, body, sample_rows):
    client = client_for(head)
    assert import_steps(client.get(reverse("import_upload", args=["places"])).content.decode()) == (
        "Upload",
        [],
    )
    upload(client, rows_csv(sample_rows))
    imp = TabularImport.objects.latest("pk")
    mapping_page = client.get(reverse("import_mapping", args=[imp.pk])).content.decode()
    assert import_steps(mapping_page) == ("Columns", ["Upload"])
    mapping = {f"column_{column}": field for column, field in imp.mapping.items()}
    client.post(reverse("import_mapping", args=[imp.pk]), mapping)
    values = client.get(reverse("import_values", args=[imp.pk])).content.decode()
    assert import_steps(values) == ("Values", ["Upload", "Columns"])
    preview = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert import_steps(preview) == ("Check", ["Upload", "Columns", "Values"])
    client.post(reverse("import_preview", args=[imp.pk]), {"mode": "all"})
    running = client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert import_steps(running) == ("Import", ["Upload", "Columns", "Values", "Check"])
    run_worker()
    # The part of the page that refreshes while the import runs carries the steps too.
    finished = client.get(reverse("import_progress", args=[imp.pk])).content.decode()
    assert import_steps(finished) == (
        "Result",
        ["Upload", "Columns", "Values", "Check", "Import"],
    )
    assert (
        import_steps(client.get(reverse("import_detail", args=[imp.pk])).content.decode())[0]
        == "Result"
    )


@pytest.mark.django_db
def test_the_import_preview_labels_each_value_with_its_column(client_for, head, sample_rows):
    client = client_for(head)
    upload(client, rows_csv(sample_rows))
    imp = TabularImport.objects.latest("pk")
    mapping = {f"column_{column}": field for column, field in imp.mapping.items()}
    client.post(reverse("import_mapping", args=[imp.pk]), mapping)
    html = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert '<td data-label="Name">Harbour Police Station</td>' in html
    assert '<td data-label="Official capacity">20</td>' in html
