"""The API of cases, referrals and persons at risk: no identity in any answer, identities only
through `reveal` with a purpose (recorded), consent enforced, ETag/If-Match, 404 outside
need-to-know."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.protection.conftest import IDENTITY, NARRATIVE, today
from vigil.core.models import AuditEntry, Role
from vigil.protection.models import Case, FollowUp, Referral

pytestmark = pytest.mark.django_db

BASE = "/api/v1/protection"


def _api(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def test_no_answer_carries_an_identity(holder, case, person):
    client = _api(holder)
    for url in (
        f"{BASE}/cases/",
        f"{BASE}/cases/{case.pk}/",
        f"{BASE}/persons-at-risk/",
        f"{BASE}/persons-at-risk/{person.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert IDENTITY not in text and NARRATIVE not in text and "Fractured" not in text


def test_reveal_needs_a_purpose_and_is_recorded(holder, case):
    client = _api(holder)
    assert client.post(f"{BASE}/cases/{case.pk}/reveal/", {}, format="json").status_code == 400
    response = client.post(
        f"{BASE}/cases/{case.pk}/reveal/", {"purpose": "Lawyer asked"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["identity"] == IDENTITY
    assert AuditEntry.objects.filter(
        action="protection.case.read", changes__purpose="Lawyer asked"
    ).exists()


def test_outside_need_to_know_everything_is_404(persona, case, person):
    client = _api(persona(Role.VISIT_LEADER))
    assert client.get(f"{BASE}/cases/{case.pk}/").status_code == 404
    assert (
        client.post(f"{BASE}/cases/{case.pk}/reveal/", {"purpose": "x"}, format="json").status_code
        == 404
    )
    assert client.get(f"{BASE}/cases/").json()["results"] == []
    assert client.get(f"{BASE}/persons-at-risk/{person.pk}/").status_code == 404
    focal = _api(persona(Role.AUTHORITY_FOCAL_POINT))
    assert focal.get(f"{BASE}/cases/").status_code == 404


def test_an_analyst_holder_may_not_reveal(persona, holder, case, head_membership):
    from vigil.protection import services

    analyst = persona(Role.ANALYST)
    services.case_set_holders(membership=head_membership, case=case, holders=[holder, analyst])
    response = _api(analyst).post(
        f"{BASE}/cases/{case.pk}/reveal/", {"purpose": "curious"}, format="json"
    )
    assert response.status_code == 403


def test_referral_beyond_consent_is_a_400_with_the_reason(holder, case):
    client = _api(holder)
    response = client.post(
        f"{BASE}/referrals/", {"case": case.pk, "target": "lawyer"}, format="json"
    )
    assert response.status_code == 400
    assert "not to Lawyer" in str(response.json())
    ok = client.post(f"{BASE}/referrals/", {"case": case.pk, "target": "prosecutor"}, format="json")
    assert ok.status_code == 201
    assert Referral.objects.count() == 1


def test_case_updates_need_if_match(holder, case):
    client = _api(holder)
    etag = client.get(f"{BASE}/cases/{case.pk}/")["ETag"]
    url = f"{BASE}/cases/{case.pk}/"
    assert client.patch(url, {"has_injuries": True}, format="json").status_code == 428
    assert (
        client.patch(url, {"has_injuries": True}, format="json", HTTP_IF_MATCH=etag).status_code
        == 200
    )
    stale = client.patch(url, {"status": "closed"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert Case.objects.get().status == "open"


def test_create_a_case_and_a_person_and_transfer(holder, place, other_place):
    client = _api(holder)
    created = client.post(
        f"{BASE}/cases/",
        {"source": "hotline", "current_place": place.pk, "identity": "Secret Name"},
        format="json",
    )
    assert created.status_code == 201
    assert "Secret Name" not in created.content.decode()
    person = client.post(
        f"{BASE}/persons-at-risk/",
        {"case": created.json()["id"], "risk_level": "high"},
        format="json",
    ).json()
    moved = client.post(
        f"{BASE}/persons-at-risk/{person['id']}/transfer/",
        {"to_place": other_place.pk, "transferred_on": today().isoformat()},
        format="json",
    )
    assert moved.status_code == 200
    assert moved.json()["current_place"] == other_place.pk
    assert FollowUp.objects.get(person_id=person["id"]).place == other_place
