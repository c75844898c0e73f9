"""An unchanged export imports as unchanged: "0 new, N unchanged, 0 errors", for a simple body
and for a coordinating body, whose export mixes its member bodies' places (issue 13, item 5)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.urls import reverse

from vigil.core import demo, imports
from vigil.core.models import Body, Membership, Role
from vigil.core.tasks import run_job
from vigil.places.models import Place

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_data(db):
    demo.build("small", log=lambda _line: None)


def _head(slug: str) -> Membership:
    return (
        Membership.objects.select_related("user", "body")
        .filter(body__slug=slug, role=Role.HEAD, is_active=True)
        .first()
    )


def _export(client) -> bytes:
    response = client.get(reverse("places:export", args=["csv"]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _import_back(membership: Membership, data: bytes):
    imp = imports.import_upload(
        membership=membership, kind="places", upload=SimpleUploadedFile("export.csv", data)
    )
    # Every column of the export is guessed as the import field it came from.
    assert None not in imp.mapping.values(), imp.mapping
    imp = imports.import_start(membership=membership, imp=imp, mode="all")
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    return imp


@pytest.mark.parametrize("coordinating", [False, True])
def test_an_unchanged_export_imports_as_unchanged(demo_data, client_for, coordinating):
    body = Body.objects.get(slug="npm" if coordinating else "other")
    membership = _head(body.slug)
    data = _export(client_for(membership.user))
    places_before = Place.objects.count()
    rows = data.count(b"\r\n") - 1
    # The identifiers under the body's schemes and the registry's columns go round too.
    header = data.split(b"\r\n", 1)[0].decode("utf-8-sig")
    for label in ("Identifiers", "Locality", "Country", "Operated by", "Source"):
        assert label in header
    assert b"statistics office code: " in data
    if coordinating:
        # Its export holds member bodies' places too.
        assert Place.objects.filter(body__coordinator=body, is_confidential=False).exists()
    imp = _import_back(membership, data)
    result = imp.summary["result"]
    assert imp.status == "done", imp.summary
    assert (result["created"], result["updated"], result["unchanged"], result["rejected"]) == (
        0,
        0,
        rows,
        0,
    )
    assert Place.objects.count() == places_before


def test_demo_external_identifiers_are_unique(demo_data):
    repeated = (
        Place.objects.exclude(external_id="")
        .values("external_id")
        .annotate(times=Count("pk"))
        .filter(times__gt=1)
    )
    assert not repeated.exists()


def test_a_changed_row_of_a_member_body_is_refused_with_its_body_named(demo_data, client_for):
    membership = _head("npm")
    data = _export(client_for(membership.user)).decode("utf-8-sig")
    member = Body.objects.get(slug="north")
    lines = data.split("\r\n")
    index = next(i for i, line in enumerate(lines) if f",{member.name}," in line)
    place_id = int(lines[index].split(",", 1)[0])
    name = Place.objects.get(pk=place_id).name
    lines[index] = lines[index].replace(name, "Renamed By The Coordinator", 1)
    imp = _import_back(membership, "\r\n".join(lines).encode())
    assert imp.status == "rejected"
    [error] = imp.errors
    assert error["field"] == "name"
    assert member.name in error["message"]


def test_an_unknown_vigil_id_is_refused(demo_data, client_for):
    membership = _head("other")
    data = _export(client_for(membership.user)).decode("utf-8-sig")
    header, first, *rest = data.split("\r\n")
    first = "999999" + first[first.index(",") :]
    imp = _import_back(membership, "\r\n".join([header, first, *rest]).encode())
    assert imp.status == "rejected"
    assert [error["field"] for error in imp.errors] == ["vigil_id"]
    assert "not the Vigil ID of a place of your body" in imp.errors[0]["message"]
