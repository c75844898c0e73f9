"""Two people editing one visit, interview or finding: the second save never silently
overwrites the first (page: "changed by X at HH:MM since you opened it", keeping what was
typed; API: ETag and If-Match, 412 when stale). And drafts of long forms: kept encrypted on the
server, the author's alone, deleted by the save."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from tests.places.test_concurrency import form_data
from tests.visits.conftest import staff, start, theme
from vigil.core.concurrency import StaleVersion
from vigil.core.models import Role
from vigil.visits import services
from vigil.visits.models import Draft, Interview, Observation, Visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def monitor(persona):
    return persona(Role.MONITOR)


@pytest.fixture
def running(visit, leader, monitor):
    staff(visit, leader, monitor)
    return start(visit, leader)


@pytest.fixture
def interview(running, leader):
    return services.interview_create(
        membership=leader,
        visit=running,
        data={"kind": "private", "category": "detainee", "unit": "Unit A", "notes": "First."},
    )


@pytest.fixture
def finding(running, leader):
    return services.observation_create(
        membership=leader,
        visit=running,
        data={
            "theme": theme(running.body),
            "unit": "Unit A",
            "description": "The yard is closed all day.",
            "other_sources": ["direct_observation"],
        },
    )


def opened(client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200
    return form_data(response.context["form"])


# ---------- Services ----------


def test_every_write_raises_the_version_and_a_stale_one_is_refused(leader, running, finding):
    version = running.version
    visit = services.visit_update(
        membership=leader, visit=running, data={"summary": "Day one."}, expected_version=version
    )
    assert visit.version == version + 1
    with pytest.raises(StaleVersion) as stale:
        services.visit_update(
            membership=leader, visit=visit, data={"summary": "Other."}, expected_version=version
        )
    assert stale.value.current_version == version + 1
    assert Visit.objects.get(pk=visit.pk).summary == "Day one."
    # A save that changes nothing is no new version.
    same = services.visit_update(membership=leader, visit=visit, data={"summary": "Day one."})
    assert same.version == version + 1
    held = services.observation_hold_back(membership=leader, observation=finding, held_back=True)
    assert held.version == finding.version + 1


def test_interview_and_finding_corrections_are_versioned_and_audited(
    leader, interview, finding, running
):
    corrected = services.interview_update(
        membership=leader,
        interview=interview,
        data={"unit": "Unit B", "notes": "Second."},
        expected_version=1,
    )
    assert corrected.version == 2 and corrected.unit == "Unit B"
    assert Interview.objects.get(pk=interview.pk).notes == "Second."
    with connection.cursor() as cursor:
        cursor.execute("SELECT notes FROM visits_interview WHERE id = %s", [interview.pk])
        assert "Second" not in cursor.fetchone()[0]
    with pytest.raises(StaleVersion):
        services.interview_update(
            membership=leader, interview=interview, data={"unit": "C"}, expected_version=1
        )
    fixed = services.observation_update(
        membership=leader,
        observation=finding,
        data={"description": "The yard is closed all day, every day."},
        expected_version=finding.version,
    )
    assert fixed.version == finding.version + 1
    from vigil.core.models import AuditEntry

    entry = AuditEntry.objects.filter(action="visits.interview.update").get()
    assert entry.changes["notes"] == ["(encrypted)", "(encrypted)"]
    assert "Second" not in str(entry.changes)
    assert AuditEntry.objects.filter(action="visits.observation.update").exists()


# ---------- Pages ----------


def test_the_visit_page_says_who_changed_it_and_keeps_what_was_typed(
    client_for, leader, persona, running
):
    head = persona(Role.HEAD)
    url = reverse("visits:edit", args=[running.pk])
    client = client_for(leader)
    mine = opened(client, url)
    services.visit_update(membership=head, visit=running, data={"areas_visited": "Block A"})
    mine["summary"] = "What I typed on the tablet."
    response = client.post(url, mine)
    assert response.status_code == 409
    text = response.content.decode()
    assert "since you opened it" in text
    assert "What I typed on the tablet." in text
    assert Visit.objects.get(pk=running.pk).summary == ""
    # Saving again, from the form as shown, keeps both changes.
    again = form_data(response.context["form"])
    assert client.post(url, again).status_code == 302
    saved = Visit.objects.get(pk=running.pk)
    assert saved.summary == "What I typed on the tablet." and saved.areas_visited == "Block A"


def test_the_interview_correction_page_refuses_a_stale_save(client_for, leader, monitor, interview):
    url = reverse("visits:interview_edit", args=[interview.visit_id, interview.pk])
    client = client_for(monitor)
    mine = opened(client, url)
    services.interview_update(membership=leader, interview=interview, data={"language": "Farsi"})
    mine["notes"] = "My corrected notes."
    response = client.post(url, mine)
    assert response.status_code == 409
    assert "since you opened it" in response.content.decode()
    assert Interview.objects.get(pk=interview.pk).notes == "First."


def test_the_finding_page_refuses_a_stale_save(client_for, leader, monitor, finding):
    url = reverse("visits:observation_edit", args=[finding.visit_id, finding.pk])
    client = client_for(monitor)
    mine = opened(client, url)
    services.observation_update(
        membership=leader, observation=finding, data={"severity": "serious"}
    )
    mine["description"] = "Closed since Monday."
    response = client.post(url, mine)
    assert response.status_code == 409
    assert Observation.objects.get(pk=finding.pk).description == "The yard is closed all day."


# ---------- API ----------


def api_for(membership) -> APIClient:
    api = APIClient()
    api.force_authenticate(membership.user)
    return api


@pytest.mark.parametrize(
    ("route", "change"),
    [
        ("visits", {"summary": "From the API."}),
        ("interviews", {"unit": "Unit Z"}),
        ("observations", {"description": "From the API."}),
    ],
)
def test_the_api_sends_etags_and_honours_if_match(
    leader, running, interview, finding, route, change
):
    pk = {"visits": running.pk, "interviews": interview.pk, "observations": finding.pk}[route]
    api = api_for(leader)
    read = api.get(f"/api/v1/{route}/{pk}/")
    assert read.status_code == 200
    tag = read["ETag"]
    assert api.patch(f"/api/v1/{route}/{pk}/", change, format="json").status_code == 428
    first = api.patch(f"/api/v1/{route}/{pk}/", change, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200, first.content
    assert first["ETag"] != tag and first.json()["version"] == read.json()["version"] + 1
    stale = api.patch(f"/api/v1/{route}/{pk}/", change, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert stale.json()["current_version"] == first.json()["version"]
    assert stale["ETag"] == first["ETag"]


def test_only_those_who_read_an_interview_correct_it_through_the_api(persona, interview):
    analyst = api_for(persona(Role.ANALYST))
    response = analyst.patch(
        f"/api/v1/interviews/{interview.pk}/", {"unit": "X"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 404


# ---------- Drafts ----------


def test_a_draft_is_kept_encrypted_and_returned_only_to_its_author(
    client_for, leader, monitor, running
):
    url = reverse("visits:draft", args=[running.pk])
    client = client_for(monitor)
    saved = client.post(
        url,
        {
            "form": "interview",
            "notes": "Beaten on arrival, he says.",
            "vulnerable_groups": ["1", "2"],
            "identity": "Never kept",
            "csrfmiddlewaretoken": "x",
        },
    )
    assert saved.status_code == 200 and saved.json()["saved_at_display"]
    draft = Draft.objects.get()
    assert draft.data["notes"] == "Beaten on arrival, he says."
    assert draft.data["vulnerable_groups"] == ["1", "2"]
    assert "identity" not in draft.data and "csrfmiddlewaretoken" not in draft.data
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM visits_draft")
        assert "Beaten" not in cursor.fetchone()[0]
    mine = client.get(url, {"form": "interview"}).json()
    assert mine["draft"]["notes"] == "Beaten on arrival, he says."
    theirs = client_for(leader).get(url, {"form": "interview"}).json()
    assert theirs["draft"] is None
    assert client.get(url, {"form": "../etc"}).status_code == 400


def test_saving_the_form_deletes_the_draft(client_for, monitor, running):
    client = client_for(monitor)
    client.post(reverse("visits:draft", args=[running.pk]), {"form": "interview", "notes": "x"})
    response = client.post(
        reverse("visits:interview_create", args=[running.pk]),
        {"kind": "private", "category": "detainee", "consent_use": "anonymous", "notes": "x"},
    )
    assert response.status_code == 302
    assert not Draft.objects.exists()


def test_off_the_team_no_draft_and_a_secret_visit_answers_404(client_for, persona, visit):
    analyst = client_for(persona(Role.ANALYST))
    url = reverse("visits:draft", args=[visit.pk])
    assert analyst.post(url, {"form": "interview", "notes": "x"}).status_code == 404
    assert not Draft.objects.exists()


def test_the_draft_endpoint_needs_the_csrf_token(leader, running):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(leader.user)
    response = client.post(
        reverse("visits:draft", args=[running.pk]), {"form": "visit", "summary": "x"}
    )
    assert response.status_code == 403
    assert not Draft.objects.exists()
