"""The places export: PostgreSQL's COPY writes the same bytes as Python's writer, in the list's
order and scope; Excel is written by the task worker, for its requester alone."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import reverse

from tests.factories import PlaceFactory, RegionFactory, place_type
from vigil.core.models import AuditEntry, Job, JobStatus, Notification, TaxonomyTerm
from vigil.core.tabular import stream_csv
from vigil.core.tasks import run_job
from vigil.places import exports
from vigil.places.filters import filtered_places
from vigil.places.importer import IMPORT_ONLY_FIELDS, PlaceImporter
from vigil.places.models import OperatorKind, PlaceIdentifier, PlaceStatus
from vigil.places.spec import COLUMNS

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(head, client_for):
    return client_for(head)


def _awkward_places(body, member_body):
    north = RegionFactory(body=body, name="North")
    district = RegionFactory(body=body, name='North, "Old" District', parent=north, level=2)
    groups = TaxonomyTerm.objects.filter(body=body, kind="vulnerable_group")[:2]
    first = PlaceFactory(
        body=body,
        name='=HYPERLINK("http://x")',
        external_id="-7",
        region=district,
        address="Line one\nLine two",
        latitude=Decimal("12.500000"),
        longitude=Decimal("-3.000000"),
        official_capacity=0,
        population=15,
        population_date=datetime.date(2026, 1, 31),
        aliases="  Old Gaol \n\n@Lockup",
        notes='\tTabbed; "quoted"',
        status=PlaceStatus.TEMPORARY,
        locality="+Saint-Éloi",
        postal_code="01000",
        country="FR",
        operator_kind=OperatorKind.PRIVATE,
        operator_name="=Acme; Sécurité",
        source="ministry list 2026.csv",
    )
    first.population_groups.set(groups)
    for scheme, value in (("national code", "-42"), ("Ministry", "Été 7"), ("b", "z")):
        PlaceIdentifier.objects.create(body=body, place=first, scheme=scheme, value=value)
    PlaceFactory(body=body, name="Plain Prison", subtype="", authority_name="")
    PlaceFactory(
        body=body,
        name="Zeta Closed",
        status=PlaceStatus.CLOSED,
        closed_on=datetime.date(2020, 5, 1),
    )
    PlaceFactory(body=member_body, name="Member Place", place_type=place_type(member_body))
    PlaceFactory(body=member_body, name="Member Secret", is_confidential=True)


def _python_csv(queryset, membership) -> bytes:
    lookups = exports.build_lookups(exports.scope_body_ids(membership))
    return b"".join(stream_csv(exports.export_headers(), exports.export_rows(queryset, lookups)))


def test_export_columns_are_the_import_fields():
    # But a file's own identifier columns: the export writes them all in "Identifiers".
    assert [column.field for column in COLUMNS] == [
        name for name in PlaceImporter.fields if name not in IMPORT_ONLY_FIELDS
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's COPY")
@pytest.mark.parametrize("query", ["", "sort=-capacity", "status=open&sort=name", "q=prison"])
def test_copy_writes_the_same_bytes_as_python(body, member_body, head_membership, query):
    _awkward_places(body, member_body)
    _filter, queryset = filtered_places(head_membership, QueryDict(query))
    expected = _python_csv(queryset, head_membership)
    lookups = exports.build_lookups(exports.scope_body_ids(head_membership))
    copied = b"".join(exports.copy_csv(queryset, lookups))
    assert copied == expected
    assert b"Member Secret" not in copied


def test_csv_export_is_scoped_and_ordered_as_the_list(body, member_body, client):
    _awkward_places(body, member_body)
    response = client.get(reverse("places:export", args=["csv"]), {"sort": "-name"})
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = content.split("\r\n")
    assert lines[0].startswith("Vigil ID,Body,External identifier,Name,Type")
    names = [line for line in lines if "Zeta Closed" in line or "Plain Prison" in line]
    assert "Zeta Closed" in names[0]
    assert "Member Place" in content
    assert "Member Secret" not in content
    assert "'=HYPERLINK" in content and "'-7" in content
    assert 'North > North, ""Old"" District' in content
    assert "Old Gaol; '@Lockup" not in content  # neutralised as a whole cell, not per name
    assert "Old Gaol; @Lockup" in content


def test_xlsx_export_runs_in_the_background_for_its_requester_only(
    body, member_body, client, client_for, persona, head, django_capture_on_commit_callbacks
):
    from vigil.core.models import Role

    _awkward_places(body, member_body)
    response = client.get(reverse("places:export", args=["xlsx"]), {"status": "open"})
    assert response.status_code == 302
    job = Job.objects.get(kind="places.export")
    assert response["Location"] == reverse("places:export_job", args=[job.pk])
    page = client.get(response["Location"])
    assert "Queued" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        run_job.call(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["rows"] == 2  # the open place of the body, the member's non-confidential
    assert Notification.objects.filter(kind="places.export.ready").count() == 1
    page = client.get(reverse("places:export_job", args=[job.pk])).content.decode()
    assert "The file is ready: 2 places." in page

    download = client.get(reverse("places:export_download", args=[job.pk]))
    assert download.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert list(rows[0]) == exports.export_headers()
    assert len(rows) == 3
    assert AuditEntry.objects.filter(action="places.place.export").exists()
    assert AuditEntry.objects.filter(action="core.file.download").exists()

    # Another member of the same body, even its head's colleague, gets a 404 for both.
    analyst = client_for(persona(Role.ANALYST))
    assert analyst.get(reverse("places:export_job", args=[job.pk])).status_code in (403, 404)
    monitor = client_for(persona(Role.MONITOR))
    assert monitor.get(reverse("places:export_download", args=[job.pk])).status_code in (403, 404)


def test_a_failed_xlsx_export_says_so(
    body, client, monkeypatch, django_capture_on_commit_callbacks
):
    PlaceFactory(body=body)
    client.get(reverse("places:export", args=["xlsx"]))
    job = Job.objects.get(kind="places.export")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("vigil.places.tasks.write_xlsx", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        run_job.call(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert Notification.objects.filter(kind="places.export.failed").count() == 1
    assert client.get(reverse("places:export_download", args=[job.pk])).status_code == 404
    assert (
        "The export failed"
        in client.get(reverse("places:export_job", args=[job.pk])).content.decode()
    )
