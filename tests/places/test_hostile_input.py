"""The seven inputs of the security review that ended in server errors: each now answers 4xx
with a message that says what is wrong, and changes nothing."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PlaceFactory, place_type
from vigil.core.models import ApiToken, AuditEntry, LoginFailure, TabularImport, TaxonomyTerm
from vigil.places.models import Place

LIST = "/api/v1/places/"
TOO_LARGE = "2147483648"  # one more than a PostgreSQL integer column holds


def api(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def page_data(body, **extra: str) -> dict[str, object]:
    return {"name": "Typed Name", "place_type": place_type(body).pk, "status": "open", **extra}


def counts() -> tuple[int, ...]:
    """What the seven inputs must not change: places, terms, sign-in failures, imports and the
    audit trail."""
    return (
        Place.objects.count(),
        TaxonomyTerm.objects.count(),
        LoginFailure.objects.count(),
        TabularImport.objects.count(),
        AuditEntry.objects.count(),
    )


def test_a_nul_byte_in_a_slug_of_the_api(body, head):
    place = PlaceFactory(body=body)
    before = counts()
    client = api(head)

    response = client.post(LIST, {"name": "Depot", "place_type": "pri\x00son"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The JSON body contains a NUL character (\\u0000), which no text in Vigil "
        "may hold. Nothing was changed."
    }
    # In a filter of the query string, and in a form body, too.
    response = client.get(LIST, {"place_type": "pri\x00son"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("“place_type” contains a NUL character")
    response = client.post(LIST, {"name": "Depot", "place_type": "pri\x00son"})
    assert response.status_code == 400
    response = client.patch(
        f"{LIST}{place.pk}/",
        "name=a%00b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("“name” contains a NUL character")
    place.refresh_from_db()
    assert place.name != "a\x00b"
    assert counts() == before


def test_a_nul_byte_in_the_sign_in_username(body, client):
    before = counts()

    response = client.post(reverse("login"), {"username": "a\x00b", "password": "guess"})

    assert response.status_code == 400
    assert "“username” contains a NUL character (a zero byte)" in response.content.decode()
    assert counts() == before


def test_an_integer_its_column_cannot_hold_on_the_page_and_in_the_api(body, head, client_for):
    before = counts()
    client = client_for(head)

    response = client.post(reverse("places:create"), page_data(body, official_capacity=TOO_LARGE))

    assert response.status_code == 400
    assert response.context["form"].errors["official_capacity"] == [
        "Ensure this value is less than or equal to 2147483647."
    ]
    assert 'max="2147483647"' in response.content.decode()

    response = api(head).post(
        LIST,
        {"name": "Depot", "place_type": "prison", "official_capacity": int(TOO_LARGE)},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "official_capacity": ["Ensure this value is less than or equal to 2147483647."]
    }
    assert counts() == before

    # The largest value the column holds is still accepted.
    response = client.post(
        reverse("places:create"), page_data(body, official_capacity="2147483647")
    )
    assert response.status_code == 302
    assert Place.objects.get().official_capacity == 2147483647


def test_json_nested_100000_deep(body, head):
    before = counts()
    body_text = "[" * 100_000 + "]" * 100_000

    response = api(head).post(LIST, body_text, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The JSON body is nested more than 64 levels deep; Vigil accepts at most 64. "
        "Nothing was changed."
    }
    assert counts() == before
    # Ordinary nesting, and brackets inside strings, are not counted against the limit.
    response = api(head).post(
        LIST,
        json.dumps({"name": "[" * 200, "place_type": "prison"}),
        content_type="application/json",
    )
    assert response.status_code == 201


def test_a_merge_candidate_that_is_not_a_number(body, head, client_for):
    place = PlaceFactory(body=body)
    before = counts()

    response = client_for(head).get(reverse("places:merge", args=[place.pk]), {"other": "abc"})

    assert response.status_code == 400
    assert (
        "“abc” is not a place of your body that can be merged into this one; choose one from "
        "the list." in response.content.decode()
    )
    assert counts() == before
    other = PlaceFactory(body=body)
    response = client_for(head).get(
        reverse("places:merge", args=[place.pk]), {"other": str(other.pk)}
    )
    assert response.status_code == 200
    assert response.context["other"] == other


def test_a_taxonomy_label_with_a_nul_or_over_200_characters(body, head, client_for):
    term = TaxonomyTerm.objects.filter(body=body, kind="theme").first()
    label = term.label
    before = counts()
    client = client_for(head)
    url = reverse("taxonomy_term", args=[term.pk])

    response = client.post(url, {"label": "a\x00b"})
    assert response.status_code == 400
    assert "“label” contains a NUL character" in response.content.decode()

    response = client.post(url, {"label": "x" * 201})
    assert response.status_code == 400
    assert "A label has at most 200 characters; this one has 201." in response.content.decode()

    response = client.post(reverse("taxonomy"), {"kind": "theme", "label": "y" * 201})
    assert response.status_code == 400
    assert "Ensure this value has at most 200 characters" in response.content.decode()

    term.refresh_from_db()
    assert term.label == label
    assert counts() == before


def test_a_csv_with_18279_columns(body, head, client_for):
    before = counts()
    header = ",".join(f"c{number}" for number in range(18_279))
    data = f"{header}\r\n{'x,' * 18_278}x\r\n".encode()

    response = client_for(head).post(
        reverse("import_upload", args=["places"]), {"file": SimpleUploadedFile("wide.csv", data)}
    )

    assert response.status_code == 400
    assert (
        "“wide.csv” has 18279 columns; Vigil imports at most 500. Remove the columns you do not "
        "need and upload it again." in response.content.decode()
    )
    assert counts() == before
