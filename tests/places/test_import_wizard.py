"""The import wizard with real files as they come: workbooks with notes sheets and title rows,
fields from a constant or several columns, missing-value tokens, values mapped to the body's
terms, identifiers that repeat, grouped problems, and a refusal that keeps the file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import RegionFactory, place_type
from tests.places.test_import import rows_csv, upload
from vigil.core import imports
from vigil.core.models import ImportValueMapping, Membership, TabularImport, TaxonomyTerm
from vigil.core.tasks import run_job
from vigil.places.models import Place, Region


@pytest.fixture
def head_membership(head, body):
    return Membership.objects.get(user=head, body=body)


@pytest.fixture
def analyst_membership(analyst, body):
    return Membership.objects.get(user=analyst, body=body)


def start(membership, data: bytes, name="places.csv") -> TabularImport:
    return imports.import_upload(
        membership=membership, kind="places", upload=SimpleUploadedFile(name, data)
    )


def run(membership, imp: TabularImport, mode="valid") -> TabularImport:
    imp = imports.import_start(membership=membership, imp=imp, mode=mode)
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    return imp


def column_of(imp: TabularImport, header: str) -> str:
    return str(imp.headers.index(header))


# --- A field from a constant or from several columns -----------------------------------------


@pytest.mark.django_db
def test_a_required_field_the_file_lacks_takes_a_constant_value(head_membership, body):
    data = rows_csv([["Central", "400"], ["North", "90"]], ["Name", "Population"])
    imp = start(head_membership, data)
    mapping = {"0": "name", "1": "population"}
    with pytest.raises(ValidationError, match="Type"):
        imports.import_set_mapping(membership=head_membership, imp=imp, mapping=mapping)

    imp = imports.import_set_mapping(
        membership=head_membership,
        imp=imp,
        mapping=mapping,
        sources={
            "place_type": {"constant": "prison"},
            "population_date": {"constant": "2024-03-01"},
        },
    )
    imp = run(head_membership, imp, mode="all")

    assert imp.status == TabularImport.Status.DONE
    places = Place.objects.filter(body=body).order_by("name")
    assert [(p.name, p.place_type.code, p.population_date) for p in places] == [
        ("Central", "prison", dt.date(2024, 3, 1)),
        ("North", "prison", dt.date(2024, 3, 1)),
    ]


@pytest.mark.django_db
def test_a_field_joins_several_columns_with_a_separator_and_a_preview(
    client_for, head, head_membership, body
):
    headers = ["Name", "Type", "Street", "Locality", "Postal code"]
    rows = [
        ["Central", "prison", "1 Main Street", "Northtown", "12345"],
        ["North", "prison", "2 Quay", "", "NA"],
    ]
    client = client_for(head)
    upload(client, rows_csv(rows, headers))
    imp = TabularImport.objects.latest("pk")
    posted = {
        "column_0": "name",
        "column_1": "place_type",
        "join_address": ["2", "3", "4"],
        "separator_address": ", ",
        "missing": "NA",
    }
    response = client.post(reverse("import_mapping", args=[imp.pk]), posted)
    assert response.status_code == 302
    page = client.get(reverse("import_mapping", args=[imp.pk])).content.decode()
    assert "1 Main Street, Northtown, 12345" in page  # the preview of the joined values

    imp.refresh_from_db()
    preview = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert '<td data-label="Address">1 Main Street, Northtown, 12345</td>' in preview
    imp = run(head_membership, imp)

    # An empty part and a missing-value token leave no stray separator.
    assert dict(Place.objects.values_list("name", "address")) == {
        "Central": "1 Main Street, Northtown, 12345",
        "North": "2 Quay",
    }


@pytest.mark.django_db
def test_a_field_is_filled_one_way_only(head_membership):
    imp = start(head_membership, rows_csv([["A", "prison"]], ["Name", "Type"]))
    with pytest.raises(ValidationError, match="several columns"):
        imports.import_set_mapping(
            membership=head_membership,
            imp=imp,
            mapping={"0": "name", "1": "place_type"},
            sources={"place_type": {"constant": "prison"}},
        )
    with pytest.raises(ValidationError, match="at least two columns"):
        imports.import_set_mapping(
            membership=head_membership,
            imp=imp,
            mapping={"0": "name", "1": "place_type"},
            sources={"address": {"join": [0]}},
        )


# --- Missing-value tokens --------------------------------------------------------------------


@pytest.mark.django_db
def test_missing_value_tokens_empty_cells_before_validation_and_are_counted(head_membership, body):
    headers = ["Name", "Type", "Population", "Population date", "Sub-type"]
    rows = [
        ["A", "prison", "-999", "2024-01-01", "NOT AVAILABLE"],
        ["B", "prison", "-999", "", "n/a"],
        ["C", "prison", "120", "2024-01-01", "Remand"],
        ["D", "prison", "NULL", "—", "--"],
    ]
    imp = start(head_membership, rows_csv(rows, headers))
    imports.import_validate(imp)
    imp.refresh_from_db()
    assert imp.summary["counts"]["invalid"] == 0
    assert imp.summary["missing_counts"] == {
        "-999": 2,
        "NOT AVAILABLE": 1,
        "N/A": 1,
        "NULL": 1,
        "—": 1,
        "--": 1,
    }
    imp = run(head_membership, imp, mode="all")
    assert dict(Place.objects.values_list("name", "population")) == {
        "A": None,
        "B": None,
        "C": 120,
        "D": None,
    }
    assert set(Place.objects.values_list("subtype", flat=True)) == {"", "Remand"}


@pytest.mark.django_db
def test_the_tokens_are_editable_and_a_value_no_longer_a_token_is_checked(head_membership):
    headers = ["Name", "Type", "Population", "Population date"]
    imp = start(head_membership, rows_csv([["A", "prison", "-999", "2024-01-01"]], headers))
    imp = imports.import_set_mapping(
        membership=head_membership, imp=imp, mapping=imp.mapping, missing=["NA"]
    )
    imports.import_validate(imp)
    imp.refresh_from_db()
    assert [imports.format_error(error) for error in imp.errors] == [
        "Row 2, column ‘Population’: “-999” must not be negative"
    ]


# --- Value mapping -----------------------------------------------------------------------------


def typed_file() -> bytes:
    return rows_csv(
        [
            ["A", "CNTR PEN", "NORTH REG", "ACTIVE"],
            ["B", "cntr pen", "North", "open"],
            ["C", "Jail", "Nowhere", "ACTIVE"],
        ],
        ["Name", "Type", "Region", "Status"],
    )


@pytest.mark.django_db
def test_the_values_step_lists_each_value_with_its_count_and_what_it_means(head_membership, body):
    RegionFactory(body=body, name="North")
    imp = start(head_membership, typed_file())
    assert imports.needs_value_mapping(imp)
    values = imports.import_values(imp)
    assert [(row.value, row.count, row.recognised) for row in values["place_type"]] == [
        ("CNTR PEN", 2, None),
        ("Jail", 1, None),
    ]
    assert [(row.value, row.recognised) for row in values["region"]] == [
        ("NORTH REG", None),
        ("North", "North"),
        ("Nowhere", None),
    ]
    assert [(row.value, row.count, row.recognised) for row in values["status"]] == [
        ("ACTIVE", 2, None),
        ("open", 1, "Open"),
    ]


@pytest.mark.django_db
def test_mapped_values_import_and_are_remembered_for_the_next_file(head_membership, body):
    north = RegionFactory(body=body, name="North")
    prison = place_type(body, "prison")
    imp = start(head_membership, typed_file())
    imp = imports.import_set_values(
        membership=head_membership,
        imp=imp,
        choices={
            "place_type": {"CNTR PEN": f"={prison.pk}", "Jail": f"={prison.pk}"},
            "region": {"NORTH REG": f"={north.pk}", "Nowhere": "-"},
            "status": {"ACTIVE": "=open"},
        },
    )
    assert not imports.needs_value_mapping(imp)
    imp = run(head_membership, imp, mode="all")
    assert imp.status == TabularImport.Status.DONE, imp.errors
    assert {(p.name, p.place_type_id, p.region_id, p.status) for p in Place.objects.all()} == {
        ("A", prison.pk, north.pk, "open"),
        ("B", prison.pk, north.pk, "open"),
        ("C", prison.pk, None, "open"),
    }
    assert ImportValueMapping.objects.filter(body=body, kind="places").count() == 5

    # The next file with the same values needs no mapping: the body remembers.
    again = start(head_membership, typed_file(), name="again.csv")
    assert not imports.needs_value_mapping(again)
    again = run(head_membership, again, mode="all")
    assert again.summary["result"]["unchanged"] == 3


@pytest.mark.django_db
def test_a_term_of_another_body_is_refused(client_for, head, head_membership, other_body):
    foreign = place_type(other_body, "prison")
    foreign_region = RegionFactory(body=other_body, name="Elsewhere")
    imp = start(head_membership, typed_file())
    for field, key in (("place_type", foreign.pk), ("region", foreign_region.pk)):
        with pytest.raises(ValidationError, match="not a choice of your body"):
            imports.import_set_values(
                membership=head_membership,
                imp=imp,
                choices={field: {"Jail": f"={key}"}},
            )
    # Through the page: refused, and nothing remembered.
    client = client_for(head)
    response = client.post(
        reverse("import_values", args=[imp.pk]),
        {"key_place_type_0": "cntr pen", "value_place_type_0": f"={foreign.pk}"},
    )
    assert response.status_code == 400
    assert "not a choice of your body" in response.content.decode()
    assert not ImportValueMapping.objects.exists()


@pytest.mark.django_db
def test_only_a_role_that_may_create_terms_creates_one_from_a_value(
    head_membership, analyst_membership, body
):
    imp = start(analyst_membership, typed_file())
    # An analyst imports places but does not manage the body's lists of terms...
    with pytest.raises(PermissionDenied):
        imports.import_set_values(
            membership=analyst_membership, imp=imp, choices={"place_type": {"Jail": "+"}}
        )
    assert not TaxonomyTerm.objects.filter(body=body, label="Jail").exists()
    # ...but may add regions, as on the places pages.
    imports.import_set_values(
        membership=analyst_membership, imp=imp, choices={"region": {"Nowhere": "+"}}
    )
    assert Region.objects.filter(body=body, name="Nowhere").exists()

    mine = start(head_membership, typed_file(), name="mine.csv")
    imports.import_set_values(
        membership=head_membership, imp=mine, choices={"place_type": {"Jail": "+"}}
    )
    jail = TaxonomyTerm.objects.get(body=body, label="Jail")
    mine = imports.import_set_values(
        membership=head_membership,
        imp=mine,
        choices={
            "place_type": {"CNTR PEN": f"={jail.pk}"},
            "status": {"ACTIVE": "=open"},
            "region": {"NORTH REG": "-", "North": "-"},
        },
    )
    mine = run(head_membership, mine, mode="valid")
    assert Place.objects.filter(body=body, place_type=jail).count() == 3


@pytest.mark.django_db
def test_the_mapping_page_leads_to_the_values_step_when_a_value_is_unknown(client_for, head, body):
    client = client_for(head)
    upload(client, typed_file())
    imp = TabularImport.objects.latest("pk")
    mapping = {f"column_{column}": field for column, field in imp.mapping.items()}
    response = client.post(reverse("import_mapping", args=[imp.pk]), mapping)
    assert response["Location"] == reverse("import_values", args=[imp.pk])
    page = client.get(reverse("import_values", args=[imp.pk])).content.decode()
    assert "CNTR PEN" in page and "A new term: “CNTR PEN”" in page


# --- Workbooks ---------------------------------------------------------------------------------


def notes_first_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Read me"
    notes.append(["This list was compiled by the ministry."])
    notes.append(["Columns", "ID", "Name", "Type", "Opened", "extra"])
    sheet = workbook.create_sheet("Places")
    sheet.append(["Places of detention, 2024"])
    sheet.merge_cells("A1:D1")
    sheet.append(["ID", "Name", "Type", "Opened"])
    sheet.append(["P-1", "Central", "prison", 36526])  # 2000-01-01 stored as a number
    sheet.append(["P-2", "North", "prison", dt.date(2001, 5, 4)])
    sheet.append(["P-3", "Hidden", "prison", None])
    sheet.row_dimensions[5].hidden = True
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.django_db
def test_a_workbook_with_a_notes_sheet_first_imports_its_table(
    client_for, head, head_membership, body
):
    client = client_for(head)
    response = upload(client, notes_first_workbook(), name="places.xlsx")
    assert response.status_code == 302
    imp = TabularImport.objects.latest("pk")
    assert imp.options["sheet"] == "Places"
    assert imp.options["header_row"] == 2
    assert imp.headers == ["ID", "Name", "Type", "Opened"]
    page = client.get(reverse("import_mapping", args=[imp.pk])).content.decode()
    assert "Read me (2 rows)" in page and "Places (5 rows)" in page

    # The notes sheet, chosen by mistake, is named, without advice about CSV separators.
    response = client.post(
        reverse("import_layout", args=[imp.pk]), {"sheet": "Read me", "header_row": "1"}
    )
    page = client.get(response["Location"]).content.decode()
    assert "sheet “Read me”" in page
    assert "unquoted separator" not in page

    imp = run(head_membership, imp, mode="all")
    assert imp.status == TabularImport.Status.DONE, imp.errors
    assert dict(Place.objects.values_list("name", "opened_on")) == {
        "Central": dt.date(2000, 1, 1),
        "North": dt.date(2001, 5, 4),
        "Hidden": None,
    }


@pytest.mark.django_db
def test_the_header_row_is_chosen_and_the_columns_guessed_again(head_membership):
    imp = start(head_membership, notes_first_workbook(), name="places.xlsx")
    imp = imports.import_set_layout(
        membership=head_membership, imp=imp, sheet="Places", header_row=3
    )
    assert imp.headers == ["P-1", "Central", "prison", "36526"]
    assert imp.options["header_row"] == 3
    imp = imports.import_set_layout(
        membership=head_membership, imp=imp, sheet="Places", header_row=None
    )
    assert imp.headers == ["ID", "Name", "Type", "Opened"]
    assert imp.mapping == {"0": "external_id", "1": "name", "2": "place_type", "3": "opened_on"}


@pytest.mark.django_db
def test_repeated_header_names_can_each_be_matched(head_membership, body):
    data = rows_csv([["A", "prison", "Old A", "Older A"]], ["Name", "Type", "Name", "name"])
    imp = start(head_membership, data)
    assert imp.headers == ["Name", "Type", "Name (C)", "name (D)"]
    imp = imports.import_set_mapping(
        membership=head_membership,
        imp=imp,
        mapping={"0": "name", "1": "place_type", "2": "former_names", "3": "aliases"},
    )
    run(head_membership, imp, mode="all")
    place = Place.objects.get()
    assert (place.former_names, place.aliases) == ("Old A", "Older A")


# --- Identifiers -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_repeating_column_is_never_guessed_as_the_identifier(client_for, head, head_membership):
    headers = ["Ref", "Name", "Type", "ID"]
    rows = [["NPM", f"Place {n}", "prison", f"X-{n}"] for n in range(4)]
    imp = start(head_membership, rows_csv(rows, headers))
    assert imp.mapping[column_of(imp, "ID")] == "external_id"
    assert column_of(imp, "Ref") not in imp.mapping

    # Chosen anyway, it is warned about, with the rows that repeat.
    client = client_for(head)
    imports.import_set_mapping(
        membership=head_membership,
        imp=imp,
        mapping={"0": "external_id", "1": "name", "2": "place_type"},
    )
    page = client.get(reverse("import_mapping", args=[imp.pk])).content.decode()
    assert (
        "The values of column ‘Ref’, chosen as “External identifier”, repeat: rows 2 and 3 "
        "both have “NPM”."
    ) in page


# --- Problems, their file, and a refusal that keeps the file ----------------------------------


@pytest.mark.django_db
def test_problems_are_grouped_by_reason_with_counts_and_examples(client_for, head, body):
    rows = [[f"P{n}", "castle" if n % 2 else "prison", str(-n)] for n in range(1, 41)]
    client = client_for(head)
    upload(client, rows_csv(rows, ["Name", "Type", "Capacity"]))
    imp = TabularImport.objects.latest("pk")
    imports.import_set_mapping(
        membership=Membership.objects.get(user=head, body=body),
        imp=imp,
        mapping={"0": "name", "1": "place_type", "2": "official_capacity"},
    )
    html = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert "60 problems found" in html
    assert "‘Capacity’: must not be negative — 40 times" in html
    assert "‘Type’: “…” is not a type of place of your body — 20 times" in html
    assert html.count("<details>") == 2
    assert "Row 2, column ‘Capacity’: “-1” must not be negative" in html
    assert "Row 7, column ‘Capacity’" not in html  # five examples a group
    # The problems file is there before anything is imported.
    assert reverse("import_rejected", args=[imp.pk]) in html
    report = client.get(reverse("import_rejected", args=[imp.pk]))
    assert report.status_code == 200
    lines = report.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 41


@pytest.mark.django_db
def test_after_a_refusal_the_valid_rows_import_without_uploading_again(
    client_for, head, head_membership, body
):
    rows = [["A", "prison"], ["B", "castle"], ["C", "prison"]]
    imp = start(head_membership, rows_csv(rows, ["Name", "Type"]))
    imp = run(head_membership, imp, mode="all")
    assert imp.status == TabularImport.Status.REJECTED
    assert not Place.objects.exists()

    client = client_for(head)
    page = client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert "Import the valid rows" in page
    response = client.post(reverse("import_valid_rows", args=[imp.pk]))
    assert response.status_code == 302
    imp.refresh_from_db()
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert imp.summary["result"]["created"] == 2
    assert imp.summary["result"]["rejected"] == 1
    assert sorted(Place.objects.values_list("name", flat=True)) == ["A", "C"]
    # Done now: only the rejected row is kept.
    assert b"prison" not in bytes(imp.data)
    with pytest.raises(ValidationError):
        imports.import_valid_rows(membership=head_membership, imp=imp)


@pytest.mark.django_db
def test_a_file_with_the_same_columns_gets_the_earlier_matching(client_for, head, head_membership):
    headers = ["Nom", "Catégorie", "Rue", "Ville"]
    data = rows_csv([["A", "prison", "1 Rue", "Paris"]], headers)
    first = start(head_membership, data, name="first.csv")
    first = imports.import_set_mapping(
        membership=head_membership,
        imp=first,
        mapping={"0": "name"},
        sources={
            "place_type": {"constant": "prison"},
            "address": {"join": [2, 3], "separator": " – "},
        },
        missing=["?"],
    )
    run(head_membership, first, mode="all")

    second = start(head_membership, rows_csv([["B", "x", "2 Rue", "Lyon"]], headers), "b.csv")
    assert second.mapping == {"0": "name"}
    assert second.options["sources"]["address"] == {"join": [2, 3], "separator": " – "}
    assert second.options["missing"] == ["?"]
    page = client_for(head).get(reverse("import_mapping", args=[second.pk])).content.decode()
    assert "This file has the same columns as “first.csv”" in page
    second = run(head_membership, second, mode="all")
    assert Place.objects.get(name="B").address == "2 Rue – Lyon"

    third = start(head_membership, data, name="third.csv")
    third = imports.import_use_guess(membership=head_membership, imp=third)
    assert "sources" not in third.options
    assert third.mapping.get("0") == "name"


# --- National scale: one pass, the bad row named ----------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_fifty_thousand_rows_with_one_bad_row_at_the_end_are_refused_in_one_pass(
    head_membership, body
):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["ID", "Name", "Type", "Capacity"])
    for number in range(49_999):
        writer.writerow([f"N-{number}", f"Place {number}", "prison", "100"])
    writer.writerow(["N-last", "Last place", "prison", "-999x"])
    imp = start(head_membership, buffer.getvalue().encode())
    began = time.monotonic()
    imp = run(head_membership, imp, mode="all")
    elapsed = time.monotonic() - began

    assert imp.status == TabularImport.Status.REJECTED
    assert [imports.format_error(error) for error in imp.errors] == [
        "Row 50001, column ‘Capacity’: “-999x” must be a whole number"
    ]
    assert not Place.objects.filter(body=body).exists()
    print(f"50,000 rows refused in {elapsed:.1f} s")


# --- Validated once ------------------------------------------------------------------------------


@pytest.fixture
def counted_rows(monkeypatch):
    """How many rows the places importer validated."""
    from vigil.places.importer import PlaceImporter

    calls = {"rows": 0}
    original = PlaceImporter.validate_row

    def counting(self, context, values):
        calls["rows"] += 1
        return original(self, context, values)

    monkeypatch.setattr(PlaceImporter, "validate_row", counting)
    return calls


@pytest.mark.django_db
def test_the_import_commits_the_rows_the_check_validated(head_membership, body, counted_rows):
    from tests.factories import PlaceFactory

    PlaceFactory(body=body, external_id="P-1", name="Old name", address="1 Road")
    headers = ["ID", "Name", "Type", "Latitude", "Longitude", "Opened", "Capacity"]
    rows = [
        ["P-1", "New name", "prison", "12.5", "-3.25", "2001-05-04", "40"],
        ["P-2", "Second", "prison", "", "", "", ""],
        ["P-3", "Third", "castle", "", "", "", ""],
    ]
    imp = start(head_membership, rows_csv(rows, headers))
    imports.import_check(membership=head_membership, imp=imp)
    assert counted_rows["rows"] == 3
    imp = run(head_membership, imp, mode="valid")

    assert counted_rows["rows"] == 3  # not one row checked twice
    assert imp.summary["result"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "rejected": 1,
        "duplicates": 0,
    }
    updated = Place.objects.get(external_id="P-1")
    assert (updated.name, str(updated.latitude), updated.opened_on) == (
        "New name",
        "12.500000",
        dt.date(2001, 5, 4),
    )
    assert updated.place_type.code == "prison"
    assert imp.validated == b""  # the kept rows go with the file


@pytest.mark.django_db
def test_rows_are_checked_again_when_the_records_or_the_choices_changed(
    head_membership, body, counted_rows
):
    from tests.factories import PlaceFactory

    rows = [["P-1", "First", "prison"], ["P-2", "Second", "prison"]]
    imp = start(head_membership, rows_csv(rows, ["ID", "Name", "Type"]))
    imports.import_check(membership=head_membership, imp=imp)
    # Someone adds a place the file now matches, after the check.
    PlaceFactory(body=body, external_id="P-2", name="Second")
    imp = run(head_membership, imp, mode="valid")
    assert counted_rows["rows"] == 4
    assert imp.summary["result"]["created"] == 1
    assert imp.summary["result"]["updated"] + imp.summary["result"]["unchanged"] == 1

    again = start(head_membership, rows_csv(rows, ["ID", "Name", "Type"]), name="again.csv")
    imports.import_check(membership=head_membership, imp=again)
    # A value mapping remembered after the check changes what the rows mean.
    ImportValueMapping.objects.create(
        body=body, kind="places", field="place_type", value="prison", target=""
    )
    again = run(head_membership, again, mode="valid")
    assert counted_rows["rows"] == 8
    assert again.summary["result"]["rejected"] == 2
