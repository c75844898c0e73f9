"""The places REST API: token auth, scoping, validation bodies, the same services as pages."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, PlaceFactory, RegionFactory
from vigil.core.models import ApiToken, AuditEntry, Role
from vigil.places.models import Place


def api(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


LIST = "/api/v1/places/"


def test_token_is_required(body):
    assert APIClient().get(LIST).status_code == 401


def test_list_filters_and_paginates_by_cursor(body, head):
    region = RegionFactory(body=body)
    PlaceFactory(body=body, name="Alpha Station", region=region)
    PlaceFactory.create_batch(3, body=body)
    client = api(head)
    data = client.get(LIST, {"q": "alpha"}).json()
    assert [place["name"] for place in data["results"]] == ["Alpha Station"]
    assert data["results"][0]["place_type"] == "prison"
    page = client.get(LIST, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 2
    assert client.get(LIST, {"region": region.pk}).json()["results"][0]["name"] == "Alpha Station"


def test_create_update_and_delete_go_through_the_services(body, head):
    client = api(head)
    response = client.post(
        LIST,
        {
            "name": "API Detention Centre",
            "place_type": "immigration-detention",
            "population_groups": ["migrants-foreign-nationals"],
            "aliases": ["Old Depot"],
            "confidential_notes": "never returned",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["aliases"] == ["Old Depot"]
    assert "confidential_notes" not in created
    place = Place.objects.get(pk=created["id"])
    assert place.confidential_notes == "never returned"
    assert AuditEntry.objects.filter(action="places.place.create", object_id=str(place.pk)).exists()

    assert response["ETag"] == f'"{place.pk}-1"'
    patched = client.patch(
        f"{LIST}{place.pk}/",
        {"official_capacity": 90},
        format="json",
        HTTP_IF_MATCH=response["ETag"],
    )
    assert patched.status_code == 200
    assert patched.json()["official_capacity"] == 90
    assert patched["ETag"] == f'"{place.pk}-2"'
    assert AuditEntry.objects.get(
        action="places.place.update", object_id=str(place.pk)
    ).changes == {"official_capacity": [None, 90], "version": [1, 2]}
    assert client.delete(f"{LIST}{place.pk}/", HTTP_IF_MATCH=patched["ETag"]).status_code == 204
    assert client.get(f"{LIST}{place.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"place_type": "prison"}, "name"),
        ({"name": "X", "place_type": "castle"}, "place_type"),
        ({"name": "X", "place_type": "prison", "latitude": 95}, "latitude"),
        ({"name": "X", "place_type": "prison", "latitude": 10}, "longitude"),
        ({"name": "X", "place_type": "prison", "official_capacity": -1}, "official_capacity"),
        (
            {"name": "X", "place_type": "prison", "opened_on": "2020-02", "closed_on": "2020-01"},
            "opened_on",
        ),
        (
            {
                "name": "X",
                "place_type": "prison",
                "opened_on": "2020-01-02",
                "closed_on": "2020-01-01",
            },
            "closed_on",
        ),
        ({"name": "X", "place_type": "prison", "population_date": "yesterday"}, "population_date"),
    ],
)
def test_bad_input_is_400_naming_the_field(body, head, payload, field):
    response = api(head).post(LIST, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Place.objects.count() == 0


def test_place_of_another_body_is_404_on_every_endpoint(body, outsider):
    place = PlaceFactory(body=body, name="Not Yours")
    client = api(outsider)
    detail = f"{LIST}{place.pk}/"
    assert client.get(detail).status_code == 404
    assert client.patch(detail, {"name": "Hacked"}, format="json").status_code == 404
    assert (
        client.put(detail, {"name": "Hacked", "place_type": "prison"}, format="json").status_code
        == 404
    )
    assert client.delete(detail).status_code == 404
    assert client.get(LIST).json()["results"] == []
    export = client.get(f"{LIST}export/")
    assert b"Not Yours" not in b"".join(export.streaming_content)
    place.refresh_from_db()
    assert place.name == "Not Yours" and place.deleted_at is None


def test_roles_in_the_api(body, persona):
    place = PlaceFactory(body=body)
    monitor = api(persona(Role.MONITOR).user)
    assert monitor.get(LIST).status_code == 200
    assert monitor.patch(f"{LIST}{place.pk}/", {"name": "x"}, format="json").status_code == 403
    assert (
        monitor.post(LIST, {"name": "x", "place_type": "prison"}, format="json").status_code == 403
    )
    focal = api(persona(Role.AUTHORITY_FOCAL_POINT).user)
    assert focal.get(LIST).status_code == 404
    assert focal.get(f"{LIST}{place.pk}/").status_code == 404


def test_body_header_selects_among_a_users_bodies(body, other_body, head):
    MembershipFactory(user=head, body=other_body, role=Role.ANALYST)
    PlaceFactory(body=body, name="In NPM")
    PlaceFactory(body=other_body, name="In Other")
    client = api(head)
    names = [p["name"] for p in client.get(LIST, HTTP_X_VIGIL_BODY="other").json()["results"]]
    assert names == ["In Other"]
    assert client.get(LIST, HTTP_X_VIGIL_BODY="nope").status_code == 404


def test_export_endpoint_streams_csv_and_xlsx(body, head):
    PlaceFactory(body=body, name="Export Me")
    client = api(head)
    csv_response = client.get(f"{LIST}export/", {"file_format": "csv"})
    assert b"Export Me" in b"".join(csv_response.streaming_content)
    xlsx = client.get(f"{LIST}export/", {"file_format": "xlsx"})
    assert xlsx.status_code == 202  # written by the task worker
    assert xlsx.json()["url"] == f"/places/exports/{xlsx.json()['job']}/"
    assert client.get(f"{LIST}export/", {"file_format": "pdf"}).status_code == 400


def test_list_query_count_is_bounded(body, head, django_assert_max_num_queries):
    PlaceFactory.create_batch(30, body=body)
    with django_assert_max_num_queries(10):
        assert len(api(head).get(LIST).json()["results"]) == 30


def test_openapi_schema_and_docs_are_served(body, head, client_for):
    client = client_for(head)
    schema = client.get(reverse("schema"))
    assert schema.status_code == 200
    assert b"/api/v1/places/" in schema.content
    docs = client.get(reverse("api_docs"))
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # served from Vigil's own static files


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("latitude", 95, "Latitude is between -90 and 90."),
        ("latitude", -91, "Latitude is between -90 and 90."),
        ("longitude", 181, "Longitude is between -180 and 180."),
    ],
)
def test_a_coordinate_out_of_range_gets_the_forms_words(body, head, field, value, message):
    payload = {"name": "X", "place_type": "prison", "latitude": 10, "longitude": 10, field: value}
    response = api(head).post(LIST, payload, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
