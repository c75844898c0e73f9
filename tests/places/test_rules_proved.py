"""Rules a mutation review broke without any test noticing (issue 19, "Tests that prove the
rules"): each test here fails when its rule is removed from the code."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PlaceFactory, RegionFactory
from vigil.core.models import ApiToken, AuditEntry, Role
from vigil.places import services
from vigil.places.models import Place, Region
from vigil.places.permissions import PLACES

pytestmark = pytest.mark.django_db

ALL_ROLES = [choice.value for choice in Role]
REGION_MAKERS = {Role.HEAD, Role.VISIT_LEADER, Role.ANALYST}


def test_the_roles_that_may_create_regions_are_the_editors(persona):
    assert {role for role in ALL_ROLES if PLACES.can(persona(role), "edit")} == REGION_MAKERS


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - REGION_MAKERS))
def test_region_creation_is_refused_for_roles_that_may_not(persona, client_for, role):
    membership = persona(role)
    with pytest.raises(PermissionDenied):
        services.region_create(membership=membership, name="Refused Region")
    response = client_for(membership.user).post(
        reverse("places:regions"), {"name": "Refused Region", "code": ""}
    )
    assert response.status_code in {403, 404}
    assert not Region.objects.filter(name="Refused Region").exists()
    assert not AuditEntry.objects.filter(action="places.region.create").exists()


@pytest.mark.parametrize("role", sorted(REGION_MAKERS))
def test_region_creation_is_allowed_for_editors(persona, role):
    region = services.region_create(membership=persona(role), name=f"Region of {role}")
    assert region.body == persona(role).body


def test_document_upload_and_download_are_each_in_the_trail(body, head, client_for):
    place = PlaceFactory(body=body)
    client = client_for(head)
    client.post(
        reverse("places:document_upload", args=[place.pk]),
        {"file": SimpleUploadedFile("note.txt", b"synthetic note", content_type="text/plain")},
    )
    document = place.documents.get()
    upload = AuditEntry.objects.get(action="core.file.upload")
    assert upload.body == body
    assert upload.actor == head
    assert upload.object_id == str(document.file_id)
    assert not AuditEntry.objects.filter(action="core.file.download").exists()
    response = client.get(reverse("places:document", args=[place.pk, document.pk]))
    assert b"".join(getattr(response, "streaming_content", [response.content])) == (
        b"synthetic note"
    )
    download = AuditEntry.objects.get(action="core.file.download")
    assert download.body == body
    assert download.actor == head
    assert download.object_id == str(document.file_id)


def _api(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_api_list_reads_regions_in_the_same_query_however_many(
    body, head, django_assert_num_queries
):
    """Each place in its own nested region: a list that reads a place's region one by one grows
    a query per place."""
    client = _api(head)
    parent = RegionFactory(body=body, name="Parent")
    for number in range(3):
        region = RegionFactory(body=body, parent=parent, level=2, name=f"Small {number}")
        PlaceFactory(body=body, region=region)
    client.get("/api/v1/places/")  # the first request also records the token's use
    with CaptureQueriesContext(connection) as captured:
        assert all(row["region_name"] for row in client.get("/api/v1/places/").json()["results"])
    few = len(captured)
    for number in range(20):
        region = RegionFactory(body=body, parent=parent, level=2, name=f"Large {number}")
        PlaceFactory(body=body, region=region)
    with django_assert_num_queries(few):
        results = client.get("/api/v1/places/").json()["results"]
    assert len(results) == 23
    assert all(row["region_name"] for row in results)


# --- What a refused action leaves: nothing --------------------------------------------------

REFUSED_WRITES = [
    ("delete", lambda p: reverse("places:delete", args=[p.pk]), {}),
    ("edit", lambda p: reverse("places:edit", args=[p.pk]), {"name": "Changed By Refused"}),
    ("reveal notes", lambda p: reverse("places:reveal_notes", args=[p.pk]), {}),
]
DELETERS = {Role.HEAD}
EDITORS = {Role.HEAD, Role.VISIT_LEADER, Role.ANALYST}
REVEALERS = {Role.HEAD, Role.VISIT_LEADER}
ALLOWED = {"delete": DELETERS, "edit": EDITORS, "reveal notes": REVEALERS}


def _state(place: Place) -> dict:
    return model_to_dict(Place._base_manager.get(pk=place.pk))


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("write", REFUSED_WRITES, ids=[w[0] for w in REFUSED_WRITES])
def test_a_refused_write_changes_nothing_and_delete_trashes(body, persona, client_for, role, write):
    name, url, data = write
    place = PlaceFactory(body=body, confidential_notes="Gate code 1234")
    before = _state(place)
    entries_before = AuditEntry.objects.count()
    response = client_for(persona(role).user).post(url(place), data)
    if role in ALLOWED[name]:
        if name == "delete":
            assert response.status_code == 302
            trashed = Place._base_manager.get(pk=place.pk)
            assert trashed.deleted_at is not None  # in the trash, not gone
        return
    assert response.status_code in {403, 404}
    assert _state(place) == before
    assert AuditEntry.objects.count() == entries_before
    assert b"Gate code 1234" not in response.content
