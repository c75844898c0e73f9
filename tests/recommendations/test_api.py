"""The recommendations API: the same services and rules as the pages, ETag / If-Match on
records with a version, and nothing for a focal point."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.recommendations.conftest import issue, theme
from vigil.core.models import ApiToken
from vigil.recommendations.models import Assessment, Position, Recommendation

pytestmark = pytest.mark.django_db

RECOMMENDATIONS = "/api/v1/recommendations/"
AUTHORITIES = "/api/v1/authorities/"
RESPONSES = "/api/v1/responses/"


def api(membership) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(membership.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_issue_read_filter_and_change(writer, directory, place):
    client = api(writer)
    response = client.post(
        RECOMMENDATIONS,
        {
            "text": "Give every detainee an hour outdoors.",
            "authority": directory["prison"].pk,
            "places": [place.pk],
            "themes": [theme(writer.body).pk],
            "priority": "urgent",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert response["ETag"] == f'"{created["id"]}-1"'
    assert created["position"] == "no_response" and created["assessment"] == "not_started"
    issue(writer, directory["health"], systemic=True, text="Hire doctors.")
    listed = client.get(RECOMMENDATIONS, {"authority": directory["prison"].pk}).json()
    assert [row["id"] for row in listed["results"]] == [created["id"]]
    assert client.get(RECOMMENDATIONS, {"overdue": "maybe"}).status_code == 400
    url = f"{RECOMMENDATIONS}{created['id']}/"
    assert client.patch(url, {"rationale": "No yard."}, format="json").status_code == 428
    changed = client.patch(
        url, {"rationale": "No yard."}, format="json", HTTP_IF_MATCH=f'"{created["id"]}-1"'
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = client.patch(
        url, {"rationale": "Again."}, format="json", HTTP_IF_MATCH=f'"{created["id"]}-1"'
    )
    assert stale.status_code == 412


def test_deadline_before_issue_is_a_400_naming_the_field(writer, directory, place):
    response = api(writer).post(
        RECOMMENDATIONS,
        {
            "text": "Fix it.",
            "authority": directory["prison"].pk,
            "places": [place.pk],
            "issued_on": "2026-03-01",
            "response_due": "2026-02-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "response_due" in response.json()


def test_the_two_tracks_through_the_api(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    client = api(writer)
    url = f"{RECOMMENDATIONS}{recommendation.pk}/"
    assert (
        client.post(url + "position/", {"position": "rejected"}, format="json").status_code == 400
    )
    given = client.post(
        url + "position/", {"position": "rejected", "note": "No budget."}, format="json"
    )
    assert given.status_code == 201
    refused = client.post(url + "assessment/", {"assessment": "implemented"}, format="json")
    assert refused.status_code == 400
    assert set(refused.json()) >= {"verified_on", "verification_method", "evidence_text"}
    assessed = client.post(
        url + "assessment/",
        {
            "assessment": "implemented",
            "verified_on": timezone.localdate().isoformat(),
            "verification_method": "follow_up_visit",
            "evidence_text": "Seen on 3 May.",
        },
        format="json",
        HTTP_IF_MATCH=f'"{recommendation.pk}-2"',
    )
    assert assessed.status_code == 201, assessed.json()
    recommendation.refresh_from_db()
    assert (recommendation.position, recommendation.assessment) == (
        Position.REJECTED,
        Assessment.IMPLEMENTED,
    )


def test_similar_ones_are_suggested(writer, directory, place):
    earlier = issue(
        writer, directory["prison"], places=[place], text="Repair the broken windows of block B."
    )
    issue(writer, directory["health"], systemic=True, text="Hire doctors for every prison.")
    found = api(writer).get(
        RECOMMENDATIONS + "similar/",
        {"text": "Repair the broken windows in block B", "authority": directory["prison"].pk},
    )
    assert found.status_code == 200
    assert [row["recommendation"]["id"] for row in found.json()] == [earlier.pk]
    assert api(writer).get(RECOMMENDATIONS + "similar/").status_code == 400


def test_authorities_and_responses(head_membership, writer, directory, place):
    client = api(head_membership)
    created = client.post(
        AUTHORITIES,
        {"name": "Police", "kind": "agency", "parent": directory["ministry"].pk},
        format="json",
    )
    assert created.status_code == 201
    names = {row["name"] for row in client.get(AUTHORITIES, {"page_size": 50}).json()["results"]}
    assert {"Police", "Ministry of Health"} <= names
    recommendation = issue(writer, directory["prison"], places=[place])
    response = api(writer).post(
        RESPONSES,
        {
            "authority": directory["prison"].pk,
            "kind": "meeting",
            "subject": "Meeting with the director",
            "participants": "Director\nHead of security",
            "recommendations": [recommendation.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert api(writer).get(RESPONSES).json()["results"][0]["subject"] == "Meeting with the director"


def test_a_focal_point_has_no_api(focal, writer, directory, place):
    recommendation = issue(writer, directory["service"], places=[place])
    client = api(focal)
    for url in (RECOMMENDATIONS, AUTHORITIES, RESPONSES, f"{RECOMMENDATIONS}{recommendation.pk}/"):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            f"{RECOMMENDATIONS}{recommendation.pk}/position/",
            {"position": "accepted"},
            format="json",
        ).status_code
        == 404
    )
    assert Recommendation.objects.get().position == Position.NO_RESPONSE


def test_hostile_input_is_a_400_never_a_500(head_membership, writer, directory, place):
    client = api(head_membership)
    created = client.post(AUTHORITIES, {"name": "Orphan unit", "parent": None}, format="json")
    assert created.status_code == 201
    assert created.json()["email"] == ""
    for query in ({"theme": "0.5"}, {"authority": str(2**70)}, {"place": "-1"}):
        assert client.get(RECOMMENDATIONS, query).status_code == 400, query
    far = api(writer).post(
        RECOMMENDATIONS,
        {
            "text": "Far away.",
            "authority": directory["prison"].pk,
            "places": [place.pk],
            "issued_on": "9999-12-31",
        },
        format="json",
    )
    assert far.status_code == 400 and "issued_on" in far.json()
    recommendation = issue(writer, directory["prison"], places=[place])
    invalid = api(writer).patch(
        f"{RECOMMENDATIONS}{recommendation.pk}/",
        {"priority": "whenever"},
        format="json",
        HTTP_IF_MATCH='"nonsense"',
    )
    assert invalid.status_code == 400
