"""The API reads what the import wizard reads: types and regions by code or label, statuses in
any case, coordinates rounded to six decimals; and it carries the registry's new fields."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import PlaceFactory, RegionFactory
from tests.places.test_api import LIST, api
from vigil.core.models import AuditEntry
from vigil.places.models import Place, PlaceIdentifier, PlaceStatus


@pytest.mark.parametrize("given", ["prison", "Prison", "PRISON", " prison "])
def test_type_by_code_or_label_in_any_case(body, head, given):
    response = api(head).post(LIST, {"name": "X", "place_type": given}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["place_type"] == "prison"


def test_unknown_type_names_the_value(body, head):
    response = api(head).post(LIST, {"name": "X", "place_type": "castle"}, format="json")
    assert response.status_code == 400
    assert "castle" in response.json()["place_type"][0]


@pytest.mark.parametrize("given", ["by id", "N-01", "north", "North > Hill District"])
def test_region_by_id_code_name_or_path(body, head, given):
    north = RegionFactory(body=body, name="North", code="N-01")
    hill = RegionFactory(body=body, name="Hill District", code="HD", parent=north, level=2)
    expected = hill if ">" in given else north
    value = north.pk if given == "by id" else given
    response = api(head).post(
        LIST, {"name": "X", "place_type": "prison", "region": value}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["region"] == expected.pk


@pytest.mark.parametrize("given", ["Atlantis", 2**31 - 1, True, {"id": 1}])
def test_unknown_region_is_400(body, head, other_body, given):
    RegionFactory(body=other_body, name="Atlantis")
    response = api(head).post(
        LIST, {"name": "X", "place_type": "prison", "region": given}, format="json"
    )
    assert response.status_code == 400
    assert "region" in response.json()


@pytest.mark.parametrize("given", ["closed", "Closed", "CLOSED"])
def test_status_in_any_case_and_closed_without_a_date(body, head, given):
    response = api(head).post(
        LIST, {"name": "X", "place_type": "prison", "status": given}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == PlaceStatus.CLOSED
    assert response.json()["closed_on"] is None


def test_bad_status_is_400(body, head):
    response = api(head).post(
        LIST, {"name": "X", "place_type": "prison", "status": "shut"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()


def test_coordinates_are_rounded_to_six_decimals_like_the_importer(body, head):
    response = api(head).post(
        LIST,
        {
            "name": "X",
            "place_type": "prison",
            "latitude": "10.1234567",
            "longitude": 20.98765449,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    place = Place.objects.get(pk=response.json()["id"])
    assert place.latitude == Decimal("10.123457")
    assert place.longitude == Decimal("20.987654")
    response = api(head).post(
        LIST,
        {"name": "Y", "place_type": "prison", "latitude": "90.0000001", "longitude": 1},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["latitude"] == ["Latitude is between -90 and 90."]


def test_new_fields_and_identifiers_round_trip(body, head):
    client = api(head)
    response = client.post(
        LIST,
        {
            "name": "Harbour Detention Centre",
            "place_type": "prison",
            "locality": "Port Town",
            "postal_code": "12345",
            "country": "fr",
            "operator_kind": "private",
            "operator_name": "Carewell Ltd",
            "source": "Ministry list 2026",
            "identifiers": {"national code": "NC-1", "source X id": "77"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["country"] == "FR"
    assert data["operator_kind"] == "private"
    assert data["created_by"] == head.pk
    assert sorted((item["scheme"], item["value"]) for item in data["identifiers"]) == [
        ("national code", "NC-1"),
        ("source X id", "77"),
    ]
    etag = client.get(f"{LIST}{data['id']}/").headers["ETag"]
    response = client.patch(
        f"{LIST}{data['id']}/",
        {"identifiers": {"national code": "NC-2"}},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 200, response.json()
    assert list(PlaceIdentifier.objects.values_list("scheme", "value")) == [
        ("national code", "NC-2")
    ]
    entry = AuditEntry.objects.filter(action="places.place.update").latest("pk")
    assert entry.changes["identifiers"] == [
        ["national code: NC-1", "source X id: 77"],
        ["national code: NC-2"],
    ]


def test_an_identifier_of_another_place_or_a_bad_country_is_400(body, head):
    other = PlaceFactory(body=body, name="Hill Prison")
    PlaceIdentifier.objects.create(body=body, place=other, scheme="national code", value="NC-1")
    response = api(head).post(
        LIST,
        {"name": "X", "place_type": "prison", "identifiers": {"national code": "NC-1"}},
        format="json",
    )
    assert response.status_code == 400
    assert "Hill Prison" in response.json()["identifiers"][0]
    response = api(head).post(
        LIST, {"name": "X", "place_type": "prison", "country": "ZZ"}, format="json"
    )
    assert response.status_code == 400
    assert "country" in response.json()
