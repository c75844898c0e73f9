"""Registers and records checked during a visit: what was examined, over which period, the
discrepancies found, and a discrepancy made a finding in one step."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.visits.conftest import staff, start, theme
from vigil.core.models import AuditEntry, Role
from vigil.visits import services
from vigil.visits.models import Discrepancy, Observation, RegisterCheck, SourceKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(visit, leader):
    visit = start(visit, leader)
    staff(visit, leader)
    return visit


def check_custody(visit, membership, *, discrepancies=(), **data):
    today = timezone.localdate()
    return services.register_check_create(
        membership=membership,
        visit=visit,
        data={
            "register_kind": "custody",
            "period_from": today - datetime.timedelta(days=30),
            "period_to": today,
            "sample_size": 40,
            **data,
        },
        discrepancies=discrepancies,
    )


def test_a_register_check_is_recorded_with_its_discrepancies_and_audited(running, leader):
    check = check_custody(
        running,
        leader,
        discrepancies=["Three arrivals on 12 May not entered", "  ", "Release  times\nrewritten"],
        notes="Checked with the duty officer.",
    )
    assert check.get_register_kind_display() == "Custody register"
    assert list(check.discrepancies.values_list("description", flat=True)) == [
        "Three arrivals on 12 May not entered",
        "Release times rewritten",
    ]
    created = AuditEntry.objects.get(action="visits.registercheck.create")
    assert created.changes["sample_size"] == [None, 40]
    assert created.body_id == running.body_id
    assert AuditEntry.objects.filter(action="visits.discrepancy.create").count() == 2


def test_only_the_team_with_the_code_of_conduct_checks_registers(running, leader, persona):
    monitor = persona(Role.MONITOR)
    with pytest.raises(PermissionDenied, match="team"):
        check_custody(running, monitor)
    services.team_add(membership=leader, visit=running, member=monitor)
    with pytest.raises(PermissionDenied, match="code of conduct"):
        check_custody(running, monitor)
    services.team_confirm_conduct(membership=monitor, visit=running)
    check = check_custody(running, monitor)
    with pytest.raises(PermissionDenied):
        services.discrepancy_create(
            membership=persona(Role.ANALYST), register_check=check, description="Pages missing"
        )
    assert RegisterCheck.objects.count() == 1 and not Discrepancy.objects.exists()


def test_bad_register_checks_are_refused_with_a_reason_for_each_field(running, leader):
    today = timezone.localdate()
    with pytest.raises(ValidationError) as error:
        services.register_check_create(
            membership=leader,
            visit=running,
            data={
                "register_kind": "diary",
                "period_from": today,
                "period_to": today - datetime.timedelta(days=1),
                "sample_size": 0,
            },
            discrepancies=["x" * 501],
        )
    errors = error.value.message_dict
    assert errors["register_kind"] == ["Choose a register."]
    assert errors["period_to"] == ["The period ends before it starts."]
    assert errors["sample_size"] == ["Give the number of entries examined: at least one."]
    assert "to 500 characters at most" in errors["discrepancies"][0]
    with pytest.raises(ValidationError) as error:
        check_custody(running, leader, period_to=today + datetime.timedelta(days=2))
    assert error.value.message_dict["period_to"] == ["The period checked cannot end in the future."]
    assert not RegisterCheck.objects.exists()


def test_registers_are_checked_once_the_visit_has_started(visit, leader):
    staff(visit, leader)
    with pytest.raises(ValidationError, match="once the visit has started"):
        check_custody(visit, leader)


def test_a_discrepancy_becomes_a_finding_under_registers_from_documents(running, leader):
    check = check_custody(running, leader, discrepancies=["Three arrivals not entered"])
    discrepancy = check.discrepancies.get()
    initial = services.discrepancy_observation_initial(discrepancy)
    assert initial["theme"] == theme(running.body, "registers")
    assert initial["other_sources"] == [SourceKind.DOCUMENTS]
    observation = services.discrepancy_to_observation(
        membership=leader,
        discrepancy=discrepancy,
        data={"unit": "Reception", "severity": "serious", "other_sources": ["staff"]},
    )
    assert observation.theme.code == "registers"
    assert observation.description == "Three arrivals not entered"
    assert observation.severity == "serious" and observation.unit == "Reception"
    # The register stays among the sources, whatever else the form named.
    assert observation.other_sources == ["documents", "staff"]
    discrepancy.refresh_from_db()
    assert discrepancy.observation == observation
    entry = AuditEntry.objects.get(action="visits.discrepancy.to_observation")
    assert entry.changes == {"observation": [None, observation.pk]}
    with pytest.raises(ValidationError, match="already a finding"):
        services.discrepancy_to_observation(membership=leader, discrepancy=discrepancy)
    assert Observation.objects.count() == 1


def test_without_the_registers_theme_the_finding_needs_a_theme(running, leader):
    registers = theme(running.body, "registers")
    registers.is_active = False
    registers.save()
    discrepancy = check_custody(
        running, leader, discrepancies=["Pages torn out"]
    ).discrepancies.get()
    assert "theme" not in services.discrepancy_observation_initial(discrepancy)
    with pytest.raises(ValidationError) as error:
        services.discrepancy_to_observation(membership=leader, discrepancy=discrepancy)
    assert error.value.message_dict["theme"] == ["Choose a theme of this body."]
    discrepancy.refresh_from_db()
    assert discrepancy.observation is None


# ---------- Pages ----------


def test_a_monitor_checks_a_register_and_makes_a_discrepancy_a_finding_on_the_pages(
    client_for, running, leader, persona
):
    monitor = persona(Role.MONITOR)
    staff(running, leader, monitor)
    client = client_for(monitor)
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert "Registers checked" in page and "Debriefing" in page and "Difficulties met" in page
    response = client.post(
        reverse("visits:register_check_create", args=[running.pk]),
        {
            "register_kind": "use_of_force",
            "period_from": "2026-01-01",
            "period_to": "2026-03-31",
            "sample_size": "25",
            "discrepancies": "Two uses of force without a medical check\nNo time of the end",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    check = RegisterCheck.objects.get()
    assert check.recorded_by == monitor.user
    first = check.discrepancies.first()
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    finding_url = reverse("visits:discrepancy_observation", args=[running.pk, first.pk])
    assert finding_url in page
    form = client.get(finding_url)
    html = form.content.decode()
    registers = theme(running.body, "registers")
    assert f'<option value="{registers.pk}" selected>' in html
    assert re.search(
        r'<input type="checkbox" name="other_sources" value="documents"[^>]* checked', html
    )
    assert "Two uses of force without a medical check" in html
    response = client.post(
        finding_url,
        {
            "theme": registers.pk,
            "description": "Two uses of force without a medical check",
            "severity": "serious",
            "other_sources": ["documents"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    first.refresh_from_db()
    assert first.observation is not None and first.observation.recorded_by == monitor.user
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert "now a finding" in page
    # Another discrepancy, added later to the same register.
    client.post(
        reverse("visits:discrepancy_create", args=[running.pk, check.pk]),
        {"description": "A page is missing"},
    )
    assert check.discrepancies.count() == 3


def test_a_bad_register_form_keeps_what_was_typed(client_for, running, leader):
    response = client_for(leader).post(
        reverse("visits:register_check_create", args=[running.pk]),
        {
            "register_kind": "custody",
            "period_from": "2026-03-31",
            "period_to": "2026-01-01",
            "discrepancies": "Kept words",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "The period ends before it starts." in html and "Kept words" in html
    assert not RegisterCheck.objects.exists()


def test_off_the_team_the_register_pages_are_refused(client_for, running, persona):
    client = client_for(persona(Role.ANALYST))
    assert client.get(reverse("visits:register_check_create", args=[running.pk])).status_code == 403
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert reverse("visits:register_check_create", args=[running.pk]) not in page


# ---------- API ----------


def test_the_api_records_registers_discrepancies_and_findings(running, leader, persona):
    api = APIClient()
    api.force_authenticate(leader.user)
    response = api.post(
        "/api/v1/register-checks/",
        {
            "visit": running.pk,
            "register_kind": "solitary_confinement",
            "sample_size": 12,
            "discrepancies": ["No review after 15 days"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [d["description"] for d in body["discrepancies"]] == ["No review after 15 days"]
    check_id = body["id"]
    added = api.post(
        f"/api/v1/register-checks/{check_id}/discrepancies/",
        {"description": "Placement signed by nobody"},
        format="json",
    )
    assert added.status_code == 201
    finding = api.post(f"/api/v1/discrepancies/{added.json()['id']}/finding/", {}, format="json")
    assert finding.status_code == 201, finding.json()
    assert finding.json()["theme"] == "registers"
    assert finding.json()["other_sources"] == ["documents"]
    listed = api.get("/api/v1/register-checks/", {"visit": running.pk}).json()["results"]
    assert len(listed[0]["discrepancies"]) == 2
    assert listed[0]["discrepancies"][1]["observation"] == finding.json()["id"]
    # Bad input gets a 400 naming the field; someone off the team a 403.
    bad = api.post(
        "/api/v1/register-checks/",
        {"visit": running.pk, "register_kind": "custody", "sample_size": 2**31},
        format="json",
    )
    assert bad.status_code == 400 and "sample_size" in bad.json()
    analyst = APIClient()
    analyst.force_authenticate(persona(Role.ANALYST).user)
    refused = analyst.post(
        "/api/v1/register-checks/",
        {"visit": running.pk, "register_kind": "custody"},
        format="json",
    )
    assert refused.status_code == 403
    assert RegisterCheck.objects.count() == 1
