"""Place and region names cannot hide characters (core.text), on the pages and in the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PlaceFactory
from vigil.core.models import ApiToken
from vigil.places.forms import PlaceForm
from vigil.places.models import Place, Region

pytestmark = pytest.mark.django_db

RLO = "\u202e"
ZWSP = "\u200b"
LIST = "/api/v1/places/"


def api(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.parametrize("field", ["name", "authority_name", "aliases", "former_names"])
def test_place_form_refuses_hidden_characters_in_names(head_membership, body, field):
    data = {"name": "Central Prison", "place_type": body.taxonomy_terms.get(code="prison").pk}
    data["status"] = "open"
    data[field] = f"Central {RLO}nosirP"
    form = PlaceForm(data, membership=head_membership)
    assert not form.is_valid()
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in form.errors[field][0]


def test_place_form_accepts_ordinary_names(head_membership, body):
    data = {
        "name": "Zentralgefängnis",
        "place_type": body.taxonomy_terms.get(code="prison").pk,
        "status": "open",
        "aliases": "Old Depot\nThe Fort",
    }
    form = PlaceForm(data, membership=head_membership)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": f"Central{ZWSP}Prison"}, "name"),
        ({"name": "Central Prison", "authority_name": f"Ministry{RLO}"}, "authority_name"),
        ({"name": "Central Prison", "aliases": ["Old Depot", f"Fort{ZWSP}"]}, "aliases"),
        ({"name": "Central Prison", "former_names": [f"{RLO}Depot"]}, "former_names"),
    ],
)
def test_api_refuses_hidden_characters_in_names(body, head, payload, field):
    response = api(head).post(LIST, {"place_type": "prison", **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert "invisible or control character" in str(response.json()[field])
    assert not Place.objects.filter(body=body).exists()


def test_api_refuses_a_hidden_character_in_a_renamed_place(body, head):
    place = PlaceFactory(body=body, name="Central Prison")
    response = api(head).patch(
        f"{LIST}{place.pk}/",
        {"name": f"Central{RLO}"},
        format="json",
        HTTP_IF_MATCH=f'"{place.pk}-{place.version}"',
    )
    assert response.status_code == 400
    place.refresh_from_db()
    assert place.name == "Central Prison"


def test_region_form_refuses_hidden_characters(client_for, head, body):
    response = client_for(head).post(reverse("places:regions"), {"name": f"North{ZWSP}"})
    assert response.status_code == 200
    assert "U+200B ZERO WIDTH SPACE" in response.content.decode()
    assert not Region.objects.filter(body=body).exists()
